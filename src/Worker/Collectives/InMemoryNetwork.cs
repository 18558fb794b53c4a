using System.Collections.Concurrent;

namespace Orchestrator.Worker.Collectives;

/// <summary>The address space of in-memory transports: ranks that share one network reach each other by endpoint name.</summary>
public sealed class InMemoryNetwork
{
    private readonly ConcurrentDictionary<string, InMemoryTransport> _transports = new(StringComparer.Ordinal);

    /// <summary>A transport reachable at <paramref name="endpoint"/> until it is disposed.</summary>
    public InMemoryTransport CreateTransport(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var transport = new InMemoryTransport(this, endpoint);
        if (!_transports.TryAdd(endpoint, transport))
        {
            throw new InvalidOperationException($"Endpoint '{endpoint}' is already in use on this network.");
        }
        return transport;
    }

    internal bool TryFind(string endpoint, out InMemoryTransport transport) =>
        _transports.TryGetValue(endpoint, out transport!);

    internal void Remove(InMemoryTransport transport) =>
        _transports.TryRemove(new KeyValuePair<string, InMemoryTransport>(transport.Endpoint, transport));
}
