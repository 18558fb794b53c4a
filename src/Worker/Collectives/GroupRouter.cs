namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Hands links arriving at a transport to the group waiting for them: the part of accepting that both transports
/// share. A link is for the one acceptor of its group id; the acceptor validates the rest of the handshake.
/// </summary>
internal sealed class GroupRouter
{
    private const int RememberedGroups = 64;
    private const int RememberedRefusals = 8;

    private readonly object _gate = new();
    private readonly Dictionary<string, TaskCompletionSource<AcceptedPeer>> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _connected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _retired = new(StringComparer.Ordinal);
    private readonly Queue<string> _retiredOrder = new();
    // Groups whose acceptor stopped waiting (setup cancelled or timed out), newest last: named, never refused.
    private readonly Queue<string> _abandoned = new();
    private readonly Queue<string> _refusals = new();
    private bool _closed;

    public async Task<AcceptedPeer> AcceptAsync(string groupId, CancellationToken cancellationToken)
    {
        var accepted = new TaskCompletionSource<AcceptedPeer>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_waiting.ContainsKey(groupId) || _connected.ContainsKey(groupId))
            {
                throw new InvalidOperationException($"This transport already accepts group '{groupId}'.");
            }
            // A group id may come back (a caller re-forming a group under the same id); it is live again.
            _retired.Remove(groupId);
            _waiting.Add(groupId, accepted);
        }
        using var registration = cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                if (_waiting.TryGetValue(groupId, out var waiting) && waiting == accepted)
                {
                    _waiting.Remove(groupId);
                    // Named in refusals until its group retires it, so a peer dialling meanwhile learns which it was.
                    _abandoned.Enqueue(groupId);
                    if (_abandoned.Count > RememberedGroups) _abandoned.Dequeue();
                }
            }
            accepted.TrySetCanceled(cancellationToken);
        });
        try
        {
            return await accepted.Task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            string refused = DescribeRefusals();
            throw new OperationCanceledException(
                refused.Length == 0
                    ? $"No peer connected for group '{groupId}'."
                    : $"No peer connected for group '{groupId}'; meanwhile this rank refused {refused}.",
                cancellationToken);
        }
    }

    /// <summary>Gives the link to the group's acceptor, or says why not.</summary>
    public RouteResult Route(GroupHandshake handshake, IPeerLink link)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return new RouteResult(RouteOutcome.NotHosted, "its transport is shutting down");
            }
            if (_retired.TryGetValue(handshake.GroupId, out var reason))
            {
                return new RouteResult(RouteOutcome.Refused, $"it gave up on group '{handshake.GroupId}': {reason}");
            }
            if (_connected.TryGetValue(handshake.GroupId, out int left))
            {
                string duplicate = $"it already has rank {left} as its left-hand neighbour in group '{handshake.GroupId}', " +
                    $"and rank {handshake.Rank} connected too (do two ranks share a rank number, or do the endpoint lists differ?)";
                Remember($"a second connection for group '{handshake.GroupId}' from rank {handshake.Rank}");
                return new RouteResult(RouteOutcome.Refused, duplicate);
            }
            if (_waiting.Remove(handshake.GroupId, out var waiting) &&
                waiting.TrySetResult(new AcceptedPeer(link, handshake)))
            {
                _connected[handshake.GroupId] = handshake.Rank;
                return new RouteResult(RouteOutcome.Delivered, null);
            }
            Remember($"group '{handshake.GroupId}' from rank {handshake.Rank}");
            return new RouteResult(RouteOutcome.NotHosted, DescribeHosted(handshake.GroupId));
        }
    }

    public void Retire(string groupId, string reason)
    {
        lock (_gate)
        {
            _connected.Remove(groupId);
            if (_waiting.Remove(groupId, out var waiting))
            {
                waiting.TrySetException(new IOException($"Group '{groupId}' was retired: {reason}"));
            }
            if (_retired.TryAdd(groupId, reason))
            {
                _retiredOrder.Enqueue(groupId);
                if (_retiredOrder.Count > RememberedGroups)
                {
                    _retired.Remove(_retiredOrder.Dequeue());
                }
            }
        }
    }

    /// <summary>Fails every waiting acceptor; the transport is going away.</summary>
    public void Close()
    {
        List<TaskCompletionSource<AcceptedPeer>> waiting;
        lock (_gate)
        {
            _closed = true;
            waiting = [.. _waiting.Values];
            _waiting.Clear();
            _connected.Clear();
        }
        foreach (var accept in waiting)
        {
            accept.TrySetException(new ObjectDisposedException(nameof(GroupRouter), "The transport was disposed."));
        }
    }

    private string DescribeHosted(string groupId)
    {
        var hosted = new List<string>(_waiting.Count + _connected.Count);
        foreach (string id in _waiting.Keys)
        {
            hosted.Add($"'{id}'");
        }
        foreach (string id in _connected.Keys)
        {
            hosted.Add($"'{id}'");
        }
        // Groups given up on recently still tell a peer with the wrong id what the right one was.
        var retired = new List<string>(3);
        foreach (string id in _retiredOrder.Concat(_abandoned).Reverse())
        {
            string quoted = $"'{id}'";
            if (retired.Count < 3 && (_retired.ContainsKey(id) || _abandoned.Contains(id)) && !retired.Contains(quoted))
            {
                retired.Add(quoted);
            }
        }
        string recently = retired.Count == 0 ? "" : $" (it recently gave up on {string.Join(", ", retired)})";
        return hosted.Count == 0
            ? $"it hosts no group now{recently}, so not '{groupId}'"
            : $"it hosts group {string.Join(", ", hosted)}{recently}, not '{groupId}'";
    }

    private void Remember(string refusal)
    {
        _refusals.Enqueue(refusal);
        if (_refusals.Count > RememberedRefusals)
        {
            _refusals.Dequeue();
        }
    }

    private string DescribeRefusals()
    {
        lock (_gate)
        {
            return string.Join("; ", _refusals.Distinct());
        }
    }
}

internal enum RouteOutcome
{
    Delivered,
    /// <summary>The group is not (yet) hosted here: the connecting rank retries.</summary>
    NotHosted,
    /// <summary>The group was given up or is already connected: retrying cannot help.</summary>
    Refused,
}

internal readonly record struct RouteResult(RouteOutcome Outcome, string? Reason);
