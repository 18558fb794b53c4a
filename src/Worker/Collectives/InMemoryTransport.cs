using System.Collections.Concurrent;

namespace Orchestrator.Worker.Collectives;

/// <summary>Links over in-process channels: for replicas inside one process and for tests; made by <see cref="InMemoryNetwork"/>.</summary>
public sealed class InMemoryTransport : ICollectiveTransport
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly InMemoryNetwork _network;
    private readonly GroupRouter _router = new();
    private readonly ConcurrentDictionary<InMemoryLink, byte> _links = new();
    private int _disposed;

    internal InMemoryTransport(InMemoryNetwork network, string endpoint)
    {
        _network = network;
        Endpoint = endpoint;
    }

    public string Endpoint { get; }

    public async Task<IPeerLink> ConnectAsync(string endpoint, GroupHandshake handshake, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handshake);
        TimeSpan delay = FirstRetryDelay;
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            string refusal;
            if (!_network.TryFind(endpoint, out var target))
            {
                refusal = $"nothing listens at '{endpoint}'";
            }
            else
            {
                var (dialler, listener) = InMemoryLink.CreatePair(this, target);
                target.Track(listener);
                var route = target.Route(handshake, listener);
                if (route.Outcome == RouteOutcome.Delivered)
                {
                    Track(dialler);
                    return dialler;
                }
                listener.Close(null);
                dialler.Close(null);
                if (route.Outcome == RouteOutcome.Refused)
                {
                    throw new IOException($"'{endpoint}' refused the connection: {route.Reason}");
                }
                refusal = route.Reason!;
            }
            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException e)
            {
                throw new IOException($"Gave up connecting to '{endpoint}': {refusal}.", e);
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastRetryDelay.Ticks));
        }
    }

    public Task<AcceptedPeer> AcceptAsync(string groupId, CancellationToken cancellationToken) =>
        _router.AcceptAsync(groupId, cancellationToken);

    public void Retire(string groupId, string reason) => _router.Retire(groupId, reason);

    /// <summary>Breaks every link at once with nothing said, as if the process died: peers see their links fail.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }
        _network.Remove(this);
        _router.Close();
        var gone = new IOException($"The transport at '{Endpoint}' shut down.");
        foreach (var link in _links.Keys)
        {
            link.Close(gone);
        }
        return ValueTask.CompletedTask;
    }

    internal RouteResult Route(GroupHandshake handshake, InMemoryLink link) => _router.Route(handshake, link);

    internal void Track(InMemoryLink link)
    {
        _links.TryAdd(link, 0);
        if (Volatile.Read(ref _disposed) != 0)
        {
            link.Close(new IOException($"The transport at '{Endpoint}' shut down."));
        }
    }

    internal void Forget(InMemoryLink link) => _links.TryRemove(link, out _);
}
