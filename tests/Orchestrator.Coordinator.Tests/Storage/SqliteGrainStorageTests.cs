using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Storage;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Orchestrator.Coordinator.Tests.Storage;

public sealed class SqliteGrainStorageTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sqlite-storage-").FullName;
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();

    private SqliteGrainStorage Open() => new(Path.Combine(_directory, "state.db"), _services.GetRequiredService<Serializer>());

    private static readonly GrainId Grain = GrainId.Create("registry", "0");

    [Fact]
    public async Task State_survives_a_new_storage_on_the_same_file()
    {
        var written = new GrainState<SweepRegistryGrain.State>(new SweepRegistryGrain.State { SweepIds = ["sw-0123456789ab"] });
        await Open().WriteStateAsync("registry", Grain, written);

        var read = new GrainState<SweepRegistryGrain.State>();
        await Open().ReadStateAsync("registry", Grain, read);

        Assert.True(read.RecordExists);
        Assert.Equal(["sw-0123456789ab"], read.State!.SweepIds);
        Assert.Equal(written.ETag, read.ETag);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused()
    {
        var storage = Open();
        var first = new GrainState<SweepRegistryGrain.State>(new SweepRegistryGrain.State());
        await storage.WriteStateAsync("registry", Grain, first);
        var stale = new GrainState<SweepRegistryGrain.State>();
        await storage.ReadStateAsync("registry", Grain, stale);
        await storage.WriteStateAsync("registry", Grain, first);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("registry", Grain, stale));
        // A second first-time insert is just as stale.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("registry", Grain, new GrainState<SweepRegistryGrain.State>(new SweepRegistryGrain.State())));
    }

    [Fact]
    public async Task Missing_state_reads_as_new_and_clear_removes_it()
    {
        var storage = Open();
        var state = new GrainState<SweepRegistryGrain.State>();
        await storage.ReadStateAsync("registry", Grain, state);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);

        await storage.WriteStateAsync("registry", Grain, state);
        await storage.ClearStateAsync("registry", Grain, state);
        var again = new GrainState<SweepRegistryGrain.State>();
        await storage.ReadStateAsync("registry", Grain, again);
        Assert.False(again.RecordExists);
    }

    public void Dispose()
    {
        _services.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
