using System.Collections.Immutable;
using System.Security.Cryptography;

namespace Orchestrator.Coordinator.Grains;

/// <summary>Every sweep ever submitted, and which client request id created which sweep (for idempotent submits).</summary>
public sealed class SweepRegistryGrain(
    [PersistentState("registry", StorageNames.Sweeps)] IPersistentState<SweepRegistryGrain.State> state) : Grain, ISweepRegistryGrain
{
    [GenerateSerializer, Immutable]
    public sealed record State
    {
        [Id(0)] public ImmutableDictionary<string, string> ByRequestId { get; init; } = ImmutableDictionary<string, string>.Empty;
        [Id(1)] public ImmutableList<string> SweepIds { get; init; } = [];
    }

    public async Task<SweepReservation> ReserveAsync(string requestId)
    {
        if (requestId.Length > 0 && state.State.ByRequestId.TryGetValue(requestId, out var existing))
            return new SweepReservation { SweepId = existing, Created = false };
        var id = "sw-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        state.State = state.State with
        {
            ByRequestId = requestId.Length > 0 ? state.State.ByRequestId.SetItem(requestId, id) : state.State.ByRequestId,
            SweepIds = state.State.SweepIds.Add(id),
        };
        await state.WriteStateAsync();
        return new SweepReservation { SweepId = id, Created = true };
    }

    public Task<ImmutableList<string>> ListAsync() => Task.FromResult(state.State.SweepIds);
}
