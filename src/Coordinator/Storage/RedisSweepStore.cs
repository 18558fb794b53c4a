using System.Globalization;
using Orleans.Storage;
using StackExchange.Redis;

namespace Orchestrator.Coordinator.Storage;

/// <summary>
/// Cluster mode's <see cref="ISweepStore"/>: one Redis hash per sweep (fields etag, count, header and t:&lt;n&gt; per
/// trial), written in a MULTI/EXEC transaction conditioned on the etag, so silos never interleave half-writes.
/// </summary>
/// <param name="redis">The connection; disposed with the store when <paramref name="ownsConnection"/>.</param>
/// <param name="keyPrefix">Prepended to every key (the coordinator uses orchestrator/&lt;service id&gt;/).</param>
/// <param name="ownsConnection">Whether the store disposes <paramref name="redis"/>.</param>
public sealed class RedisSweepStore(IConnectionMultiplexer redis, string keyPrefix, bool ownsConnection = false) : ISweepStore, IDisposable
{
    public void Dispose()
    {
        if (ownsConnection) redis.Dispose();
    }

    private const string ETagField = "etag";
    private const string CountField = "count";
    private const string HeaderField = "header";

    private RedisKey Key(string sweepId) => $"{keyPrefix}sweep/{sweepId}";

    private static RedisValue TrialField(int number) => $"t:{number.ToString(CultureInfo.InvariantCulture)}";

    public async Task<StoredSweep?> ReadAsync(string sweepId)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(Key(sweepId));
        if (entries.Length == 0) return null;
        var fields = entries.ToDictionary(e => (string)e.Name!, e => e.Value, StringComparer.Ordinal);
        if (!fields.TryGetValue(ETagField, out var etag) || !fields.TryGetValue(CountField, out var countValue) || !fields.TryGetValue(HeaderField, out var header))
            throw new InvalidDataException($"sweep {sweepId} is stored in Redis without its etag, count or header");
        var count = (int)countValue;
        var trials = new byte[count][];
        for (var n = 0; n < count; n++)
        {
            if (!fields.TryGetValue(TrialField(n)!, out var trial))
                throw new InvalidDataException($"sweep {sweepId} is stored with {count} trials but trial {n} has no record");
            trials[n] = (byte[])trial!;
        }
        return new StoredSweep((byte[])header!, etag.ToString(), trials);
    }

    public async Task<string> WriteAsync(string sweepId, string? expectedETag, byte[] header, int trialCount, IReadOnlyList<KeyValuePair<int, byte[]>> trials)
    {
        var key = Key(sweepId);
        var next = expectedETag is null ? 1 : long.Parse(expectedETag, CultureInfo.InvariantCulture) + 1;
        var entries = new HashEntry[3 + trials.Count];
        entries[0] = new HashEntry(ETagField, next);
        entries[1] = new HashEntry(CountField, trialCount);
        entries[2] = new HashEntry(HeaderField, header);
        for (var i = 0; i < trials.Count; i++) entries[3 + i] = new HashEntry(TrialField(trials[i].Key), trials[i].Value);
        var transaction = redis.GetDatabase().CreateTransaction();
        transaction.AddCondition(expectedETag is null ? Condition.HashNotExists(key, ETagField) : Condition.HashEqual(key, ETagField, expectedETag));
        _ = transaction.HashSetAsync(key, entries);
        if (!await transaction.ExecuteAsync())
        {
            var current = await redis.GetDatabase().HashGetAsync(key, ETagField);
            throw new InconsistentStateException($"sweep {sweepId} was changed by someone else", current.IsNull ? "(none)" : current.ToString(), expectedETag ?? "(none)");
        }
        return next.ToString(CultureInfo.InvariantCulture);
    }
}
