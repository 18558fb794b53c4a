using System.Globalization;
using Microsoft.Data.Sqlite;
using Orleans.Storage;

namespace Orchestrator.Coordinator.Storage;

/// <summary>
/// The embedded default's <see cref="ISweepStore"/>: two tables in the coordinator's SQLite file (WAL), a header row
/// per sweep and a row per trial, each write one transaction.
/// </summary>
public sealed class SqliteSweepStore : ISweepStore, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SqliteConnection _connection;

    public SqliteSweepStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        // One connection for the store's life (writes are serialized by the gate anyway); the grain storage shares
        // the file through its own connections, which WAL and the busy timeout allow.
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA busy_timeout=5000;");
        Execute("PRAGMA synchronous=NORMAL;");
        Execute("""
            CREATE TABLE IF NOT EXISTS sweeps (
                sweep_id TEXT NOT NULL PRIMARY KEY,
                etag INTEGER NOT NULL,
                trial_count INTEGER NOT NULL,
                header BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS sweep_trials (
                sweep_id TEXT NOT NULL,
                number INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (sweep_id, number));
            """);
    }

    public async Task<StoredSweep?> ReadAsync(string sweepId)
    {
        await _gate.WaitAsync();
        try
        {
            byte[] header;
            long etag;
            int count;
            using (var command = _connection.CreateCommand())
            {
                command.CommandText = "SELECT etag, trial_count, header FROM sweeps WHERE sweep_id = $id";
                command.Parameters.AddWithValue("$id", sweepId);
                using var reader = command.ExecuteReader();
                if (!reader.Read()) return null;
                etag = reader.GetInt64(0);
                count = reader.GetInt32(1);
                header = (byte[])reader.GetValue(2);
            }
            var trials = new byte[count][];
            using (var command = _connection.CreateCommand())
            {
                command.CommandText = "SELECT number, data FROM sweep_trials WHERE sweep_id = $id AND number < $count";
                command.Parameters.AddWithValue("$id", sweepId);
                command.Parameters.AddWithValue("$count", count);
                using var reader = command.ExecuteReader();
                while (reader.Read()) trials[reader.GetInt32(0)] = (byte[])reader.GetValue(1);
            }
            var missing = Array.FindIndex(trials, t => t is null);
            if (missing >= 0)
                throw new InvalidDataException($"sweep {sweepId} is stored with {count} trials but trial {missing} has no record");
            return new StoredSweep(header, etag.ToString(CultureInfo.InvariantCulture), trials);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<string> WriteAsync(string sweepId, string? expectedETag, byte[] header, int trialCount, IReadOnlyList<KeyValuePair<int, byte[]>> trials)
    {
        await _gate.WaitAsync();
        try
        {
            using var transaction = _connection.BeginTransaction();
            long next;
            using (var command = _connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.Parameters.AddWithValue("$id", sweepId);
                command.Parameters.AddWithValue("$count", trialCount);
                command.Parameters.AddWithValue("$header", header);
                if (expectedETag is null)
                {
                    next = 1;
                    command.CommandText = "INSERT OR IGNORE INTO sweeps (sweep_id, etag, trial_count, header) VALUES ($id, 1, $count, $header)";
                }
                else
                {
                    var current = long.Parse(expectedETag, CultureInfo.InvariantCulture);
                    next = current + 1;
                    command.CommandText = "UPDATE sweeps SET etag = $next, trial_count = $count, header = $header WHERE sweep_id = $id AND etag = $etag";
                    command.Parameters.AddWithValue("$etag", current);
                    command.Parameters.AddWithValue("$next", next);
                }
                if (command.ExecuteNonQuery() != 1)
                    throw new InconsistentStateException($"sweep {sweepId} was changed by someone else", CurrentETag(sweepId, transaction), expectedETag ?? "(none)");
            }
            if (trials.Count > 0)
            {
                using var command = _connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "INSERT OR REPLACE INTO sweep_trials (sweep_id, number, data) VALUES ($id, $number, $data)";
                var id = command.Parameters.AddWithValue("$id", sweepId);
                var number = command.Parameters.Add("$number", SqliteType.Integer);
                var data = command.Parameters.Add("$data", SqliteType.Blob);
                foreach (var (n, bytes) in trials)
                {
                    number.Value = n;
                    data.Value = bytes;
                    command.ExecuteNonQuery();
                }
            }
            transaction.Commit();
            return next.ToString(CultureInfo.InvariantCulture);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }

    private string CurrentETag(string sweepId, SqliteTransaction transaction)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT etag FROM sweeps WHERE sweep_id = $id";
        command.Parameters.AddWithValue("$id", sweepId);
        return command.ExecuteScalar() is long etag ? etag.ToString(CultureInfo.InvariantCulture) : "(none)";
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
