using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Storage;
using Orchestrator.Coordinator.Sweeps;
using Orchestrator.Tests.Common;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace Orchestrator.Coordinator.Tests.Storage;

/// <summary>What every <see cref="ISweepStore"/> must do, run against SQLite and a real redis-server.</summary>
public abstract class SweepStoreContract
{
    protected abstract Task<ISweepStore> OpenAsync();

    private static byte[] Bytes(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static string Text(byte[] bytes) => System.Text.Encoding.UTF8.GetString(bytes);

    private static KeyValuePair<int, byte[]> Trial(int number, string text) => new(number, Bytes(text));

    [Fact]
    public async Task A_sweep_reads_back_its_header_and_trials_and_a_missing_one_reads_null()
    {
        var store = await OpenAsync();
        Assert.Null(await store.ReadAsync("sw-missing"));

        var etag = await store.WriteAsync("sw-a", null, Bytes("header 1"), 3, [Trial(0, "t0"), Trial(1, "t1"), Trial(2, "t2")]);
        var read = await store.ReadAsync("sw-a");

        Assert.NotNull(read);
        Assert.Equal("header 1", Text(read.Header));
        Assert.Equal(etag, read.ETag);
        Assert.Equal(["t0", "t1", "t2"], read.Trials.Select(Text));
    }

    [Fact]
    public async Task A_write_replaces_the_header_and_only_the_trials_it_names()
    {
        var store = await OpenAsync();
        var etag = await store.WriteAsync("sw-b", null, Bytes("h1"), 2, [Trial(0, "t0"), Trial(1, "t1")]);
        etag = await store.WriteAsync("sw-b", etag, Bytes("h2"), 3, [Trial(1, "t1 changed"), Trial(2, "t2")]);

        var read = await store.ReadAsync("sw-b");

        Assert.Equal("h2", Text(read!.Header));
        Assert.Equal(etag, read.ETag);
        Assert.Equal(["t0", "t1 changed", "t2"], read.Trials.Select(Text));
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused_and_changes_nothing()
    {
        var store = await OpenAsync();
        var first = await store.WriteAsync("sw-c", null, Bytes("h1"), 1, [Trial(0, "t0")]);
        await store.WriteAsync("sw-c", first, Bytes("h2"), 1, [Trial(0, "t0 by silo 1")]);

        await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteAsync("sw-c", first, Bytes("h3"), 2, [Trial(0, "t0 by silo 2"), Trial(1, "t1")]));
        // A second first-time write is just as stale.
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteAsync("sw-c", null, Bytes("h4"), 1, [Trial(0, "again")]));

        var read = await store.ReadAsync("sw-c");
        Assert.Equal("h2", Text(read!.Header));
        Assert.Equal(["t0 by silo 1"], read.Trials.Select(Text));
    }

    [Fact]
    public async Task Sweeps_are_kept_apart()
    {
        var store = await OpenAsync();
        await store.WriteAsync("sw-d", null, Bytes("d"), 1, [Trial(0, "d0")]);
        await store.WriteAsync("sw-e", null, Bytes("e"), 1, [Trial(0, "e0")]);

        Assert.Equal(["d0"], (await store.ReadAsync("sw-d"))!.Trials.Select(Text));
        Assert.Equal(["e0"], (await store.ReadAsync("sw-e"))!.Trials.Select(Text));
    }
}

public sealed class SqliteSweepStoreTests : SweepStoreContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sweep-store-").FullName;
    private readonly List<SqliteSweepStore> _stores = [];

    private string File => Path.Combine(_directory, "coordinator.db");

    protected override Task<ISweepStore> OpenAsync()
    {
        var store = new SqliteSweepStore(File);
        _stores.Add(store);
        return Task.FromResult<ISweepStore>(store);
    }

    [Fact]
    public async Task A_sweep_survives_a_new_store_on_the_same_file_beside_the_grain_storage()
    {
        var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        var grains = new SqliteGrainStorage(File, serializer);
        await grains.WriteStateAsync("registry", GrainId.Create("registry", "0"), new GrainState<SweepRegistryGrain.State>(new SweepRegistryGrain.State { SweepIds = ["sw-f"] }));
        var etag = await (await OpenAsync()).WriteAsync("sw-f", null, [1, 2, 3], 1, [new(0, [4, 5])]);

        var read = await (await OpenAsync()).ReadAsync("sw-f");

        Assert.Equal(etag, read!.ETag);
        Assert.Equal([1, 2, 3], read.Header);
        Assert.Equal([4, 5], Assert.Single(read.Trials));
        var registry = new GrainState<SweepRegistryGrain.State>();
        await grains.ReadStateAsync("registry", GrainId.Create("registry", "0"), registry);
        Assert.Equal(["sw-f"], registry.State!.SweepIds);
    }

    public void Dispose()
    {
        _stores.ForEach(s => s.Dispose());
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class RedisSweepStoreTests : SweepStoreContract, IDisposable
{
    private readonly RedisServer _redis = new();
    private ConnectionMultiplexer? _connection;

    protected override async Task<ISweepStore> OpenAsync()
    {
        if (_connection is null)
        {
            await _redis.WaitReadyAsync();
            _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        }
        return new RedisSweepStore(_connection, "orchestrator/test/");
    }

    public void Dispose()
    {
        _connection?.Dispose();
        _redis.Dispose();
    }
}

/// <summary>The sweep grain's persistence: header plus changed trials, and sweeps stored the old way (one record).</summary>
public sealed class SweepPersistenceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sweep-persistence-").FullName;
    private readonly Serializer _serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
    private readonly SqliteSweepStore _sqlite;
    private readonly Recording _store;

    public SweepPersistenceTests()
    {
        _sqlite = new SqliteSweepStore(Path.Combine(_directory, "coordinator.db"));
        _store = new Recording(_sqlite);
    }

    /// <summary>The real store, with what each write carried.</summary>
    private sealed class Recording(ISweepStore inner) : ISweepStore
    {
        public List<int[]> Writes { get; } = [];

        public Task<StoredSweep?> ReadAsync(string sweepId) => inner.ReadAsync(sweepId);

        public Task<string> WriteAsync(string sweepId, string? expectedETag, byte[] header, int trialCount, IReadOnlyList<KeyValuePair<int, byte[]>> trials)
        {
            Writes.Add(trials.Select(t => t.Key).ToArray());
            return inner.WriteAsync(sweepId, expectedETag, header, trialCount, trials);
        }
    }

    private static SweepGrain.State Sweep(int trials) => new()
    {
        Sweep = new SweepRecord
        {
            Id = "sw-0123456789ab",
            Name = "persisted",
            SpecProto = [1, 2, 3],
            Status = SweepStatus.Running,
            Trials = ImmutableList.CreateRange(Enumerable.Range(0, trials).Select(n => new TrialRecord
            {
                Number = n,
                Status = TrialStatus.Queued,
                Parameters = ImmutableDictionary<string, string>.Empty.Add("lr", $"0.00{n + 1}"),
            })),
        },
        SearcherState = "searcher",
    };

    private SweepPersistence Open() => new(_store, _serializer, "sw-0123456789ab");

    [Fact]
    public async Task Each_write_carries_only_the_trials_that_changed_and_a_reread_sees_them_all()
    {
        var persistence = Open();
        persistence.State = Sweep(trials: 3);
        await persistence.WriteStateAsync();
        var sweep = persistence.State.Sweep!;
        persistence.State = persistence.State with
        {
            Sweep = sweep with
            {
                Trials = sweep.Trials.SetItem(1, sweep.Trials[1] with { Status = TrialStatus.Completed, Objective = 0.25 })
                    .Add(new TrialRecord { Number = 3, Status = TrialStatus.Queued }),
                BestTrial = 1,
            },
            SearcherState = "searcher after 1",
        };
        await persistence.WriteStateAsync();
        await persistence.WriteStateAsync();

        Assert.Equal([[0, 1, 2], [1, 3], []], _store.Writes);
        var reread = Open();
        await reread.ReadAsync(null, GrainId.Create("sweep", "sw-0123456789ab"));
        var read = reread.State.Sweep!;
        Assert.Equal(4, read.Trials.Count);
        Assert.Equal(TrialStatus.Completed, read.Trials[1].Status);
        Assert.Equal(0.25, read.Trials[1].Objective);
        Assert.Equal("0.003", read.Trials[2].Parameters["lr"]);
        Assert.Equal(1, read.BestTrial);
        Assert.Equal("searcher after 1", reread.State.SearcherState);
        // The reread copy carries on from the stored version.
        reread.State = reread.State with { Sweep = read with { Trials = read.Trials.SetItem(3, read.Trials[3] with { Status = TrialStatus.Running }) } };
        await reread.WriteStateAsync();
        Assert.Equal([3], _store.Writes[^1]);
        // The first copy is now stale: its write is refused rather than undoing the other's.
        await Assert.ThrowsAsync<InconsistentStateException>(persistence.WriteStateAsync);
    }

    [Fact]
    public async Task A_sweep_stored_as_one_grain_state_record_is_loaded_and_moved_into_the_store()
    {
        var grains = new SqliteGrainStorage(Path.Combine(_directory, "coordinator.db"), _serializer);
        var grainId = GrainId.Create("sweep", "sw-0123456789ab");
        await grains.WriteStateAsync(SweepPersistence.LegacyStateName, grainId, new GrainState<SweepGrain.State>(Sweep(trials: 2)));

        var persistence = Open();
        await persistence.ReadAsync(grains, grainId);
        Assert.Equal(2, persistence.State.Sweep!.Trials.Count);
        Assert.Equal("searcher", persistence.State.SearcherState);
        await persistence.WriteStateAsync();

        Assert.Equal([[0, 1]], _store.Writes);
        var reread = Open();
        await reread.ReadAsync(null, grainId);
        Assert.Equal(["0.001", "0.002"], reread.State.Sweep!.Trials.Select(t => t.Parameters["lr"]));
    }

    public void Dispose()
    {
        _sqlite.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
