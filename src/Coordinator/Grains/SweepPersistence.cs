using Orchestrator.Coordinator.Storage;
using Orleans.Serialization;

namespace Orchestrator.Coordinator.Grains;

/// <summary>
/// A sweep grain's persisted state through an <see cref="ISweepStore"/>: the header (the sweep without its trials,
/// and the search's states) on every write, and only the trials whose records changed since the last write. Records
/// are immutable and replaced when they change, so a changed trial is one whose reference differs.
/// </summary>
internal sealed class SweepPersistence(ISweepStore store, Serializer serializer, string sweepId)
{
    /// <summary>The grain-state name sweeps were persisted under as one record.</summary>
    internal const string LegacyStateName = "sweep";

    private string? _etag;
    private System.Collections.Immutable.ImmutableList<TrialRecord> _written = [];

    public SweepGrain.State State { get; set; } = new();

    /// <param name="legacy">
    /// Where sweeps were kept as one grain-state record each before the store existed: a sweep found only there is
    /// loaded from it, and its next write moves it (every trial) into the store.
    /// </param>
    public async Task ReadAsync(Orleans.Storage.IGrainStorage? legacy, GrainId grainId)
    {
        if (await store.ReadAsync(sweepId) is not { } stored)
        {
            if (legacy is null) return;
            var old = new GrainState<SweepGrain.State>();
            await legacy.ReadStateAsync(LegacyStateName, grainId, old);
            if (old.RecordExists && old.State?.Sweep is not null) State = old.State;
            return;
        }
        var header = serializer.Deserialize<SweepGrain.State>(stored.Header);
        if (header?.Sweep is null) throw new InvalidDataException($"sweep {sweepId} is stored without its record");
        var trials = System.Collections.Immutable.ImmutableList.CreateRange(stored.Trials.Select(bytes =>
            serializer.Deserialize<TrialRecord>(bytes) ?? throw new InvalidDataException($"sweep {sweepId} has an empty trial record")));
        State = header with { Sweep = header.Sweep with { Trials = trials } };
        _etag = stored.ETag;
        _written = trials;
    }

    public async Task WriteStateAsync()
    {
        if (State.Sweep is not { } sweep) return;
        var trials = sweep.Trials;
        var changed = new List<KeyValuePair<int, byte[]>>();
        using (var before = _written.GetEnumerator())
        {
            var number = 0;
            foreach (var trial in trials)
            {
                var same = before.MoveNext() && ReferenceEquals(before.Current, trial);
                if (!same) changed.Add(new(number, serializer.SerializeToArray(trial)));
                number++;
            }
        }
        var header = serializer.SerializeToArray(State with { Sweep = sweep with { Trials = [] } });
        _etag = await store.WriteAsync(sweepId, _etag, header, trials.Count, changed);
        _written = trials;
    }
}
