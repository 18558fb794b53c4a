using System.Globalization;
using Microsoft.Data.Sqlite;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Orchestrator.Coordinator.Storage;

/// <summary>
/// Grain state in one SQLite file: one row per (state name, grain id) holding the state in Orleans' binary
/// serialization (version tolerant through the [Id] attributes) and an integer ETag for optimistic concurrency.
/// </summary>
public sealed class SqliteGrainStorage : IGrainStorage
{
    private readonly string _connectionString;
    private readonly Serializer _serializer;
    // One writer at a time: SQLite serialises writers anyway, and this keeps busy-retries out of the silo's threads.
    private readonly SemaphoreSlim _gate = new(1, 1);

    public SqliteGrainStorage(string path, Serializer serializer)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        _serializer = serializer;
        using var connection = Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS grain_state (
                state_name TEXT NOT NULL,
                grain_id TEXT NOT NULL,
                etag INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (state_name, grain_id));
            """);
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await _gate.WaitAsync();
        try
        {
            using var connection = Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT etag, data FROM grain_state WHERE state_name = $name AND grain_id = $id";
            command.Parameters.AddWithValue("$name", stateName);
            command.Parameters.AddWithValue("$id", grainId.ToString());
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                grainState.State = Activator.CreateInstance<T>();
                grainState.ETag = null;
                grainState.RecordExists = false;
                return;
            }
            grainState.ETag = reader.GetInt64(0).ToString(CultureInfo.InvariantCulture);
            grainState.State = _serializer.Deserialize<T>((byte[])reader.GetValue(1));
            grainState.RecordExists = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var data = _serializer.SerializeToArray(grainState.State);
        await _gate.WaitAsync();
        try
        {
            using var connection = Open();
            using var command = connection.CreateCommand();
            command.Parameters.AddWithValue("$name", stateName);
            command.Parameters.AddWithValue("$id", grainId.ToString());
            command.Parameters.AddWithValue("$data", data);
            long next;
            if (grainState.ETag is null)
            {
                next = 1;
                command.CommandText = "INSERT OR IGNORE INTO grain_state (state_name, grain_id, etag, data) VALUES ($name, $id, 1, $data)";
            }
            else
            {
                var current = long.Parse(grainState.ETag, CultureInfo.InvariantCulture);
                next = current + 1;
                command.CommandText = "UPDATE grain_state SET etag = $next, data = $data WHERE state_name = $name AND grain_id = $id AND etag = $etag";
                command.Parameters.AddWithValue("$etag", current);
                command.Parameters.AddWithValue("$next", next);
            }
            if (command.ExecuteNonQuery() != 1)
                throw new InconsistentStateException($"{stateName} of {grainId} was changed by someone else", CurrentETag(connection, stateName, grainId), grainState.ETag ?? "(none)");
            grainState.ETag = next.ToString(CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await _gate.WaitAsync();
        try
        {
            using var connection = Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM grain_state WHERE state_name = $name AND grain_id = $id AND etag = $etag";
            command.Parameters.AddWithValue("$name", stateName);
            command.Parameters.AddWithValue("$id", grainId.ToString());
            command.Parameters.AddWithValue("$etag", grainState.ETag is null ? -1 : long.Parse(grainState.ETag, CultureInfo.InvariantCulture));
            if (grainState.ETag is not null && command.ExecuteNonQuery() != 1)
                throw new InconsistentStateException($"{stateName} of {grainId} was changed by someone else", CurrentETag(connection, stateName, grainId), grainState.ETag);
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = Activator.CreateInstance<T>();
        }
        finally
        {
            _gate.Release();
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, "PRAGMA busy_timeout=5000;");
        // In WAL mode NORMAL syncs the log at checkpoints, not at every commit: a killed coordinator loses nothing
        // (the log is in the OS's page cache), only a power cut can lose the last commits. FULL made every trial's
        // state change an fsync, which was most of the bookkeeping time of a sweep of short trials.
        Execute(connection, "PRAGMA synchronous=NORMAL;");
        return connection;
    }

    private static string CurrentETag(SqliteConnection connection, string stateName, GrainId grainId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT etag FROM grain_state WHERE state_name = $name AND grain_id = $id";
        command.Parameters.AddWithValue("$name", stateName);
        command.Parameters.AddWithValue("$id", grainId.ToString());
        return command.ExecuteScalar() is long etag ? etag.ToString(CultureInfo.InvariantCulture) : "(none)";
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
