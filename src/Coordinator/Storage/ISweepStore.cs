namespace Orchestrator.Coordinator.Storage;

/// <summary>A sweep as stored: its header (everything but the trials) and its trials, one record each.</summary>
/// <param name="Header">The serialized header.</param>
/// <param name="ETag">What the next write must name to replace this version.</param>
/// <param name="Trials">The serialized trials, indexed by trial number.</param>
public sealed record StoredSweep(byte[] Header, string ETag, IReadOnlyList<byte[]> Trials);

/// <summary>
/// Where sweep grains persist. A sweep is written as a small header plus the trials that changed since its previous
/// write, header and trials together in one atomic write, so a write costs what changed, not what the sweep has
/// accumulated (a 1,000-trial sweep rewrote every trial on every state change when it was one blob).
/// </summary>
public interface ISweepStore
{
    /// <summary>The sweep's header and its first <c>trialCount</c> trials (as of its newest write), or null.</summary>
    Task<StoredSweep?> ReadAsync(string sweepId);

    /// <summary>
    /// Replaces the header and the given trials in one atomic write, provided the stored version is still
    /// <paramref name="expectedETag"/> (null: the sweep must not be stored yet).
    /// </summary>
    /// <param name="trialCount">How many trials the sweep has: a read returns trials 0 to trialCount - 1.</param>
    /// <returns>The new version's etag.</returns>
    /// <exception cref="Orleans.Storage.InconsistentStateException">Someone else wrote the sweep since <paramref name="expectedETag"/>.</exception>
    Task<string> WriteAsync(string sweepId, string? expectedETag, byte[] header, int trialCount, IReadOnlyList<KeyValuePair<int, byte[]>> trials);
}
