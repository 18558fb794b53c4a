using System.Diagnostics;

namespace Orchestrator.Worker.Collectives;

/// <summary>A group's view of one neighbour: its link, when it was last heard from, and what it last said about itself.</summary>
internal sealed class PeerState(IPeerLink link, int rank, string side)
{
    public const long Present = long.MinValue;

    private long _lastHeard = Stopwatch.GetTimestamp();
    private long _departedAfter = Present;
    private int _heartbeatInFlight;

    public IPeerLink Link { get; } = link;

    public int Rank { get; } = rank;

    /// <summary>"left" or "right", for messages.</summary>
    public string Side { get; } = side;

    private volatile PeerStatus? _status;

    /// <summary>The last status its heartbeat carried; null until the first one.</summary>
    public PeerStatus? Status
    {
        get => _status;
        set => _status = value;
    }

    public long LastHeard => Volatile.Read(ref _lastHeard);

    /// <summary>The last collective it completed before leaving, or <see cref="Present"/>.</summary>
    public long DepartedAfter => Interlocked.Read(ref _departedAfter);

    public void Heard() => Volatile.Write(ref _lastHeard, Stopwatch.GetTimestamp());

    public void Depart(long completedSequence) => Interlocked.Exchange(ref _departedAfter, completedSequence);

    /// <summary>Claims the right to send a heartbeat; false while the previous one is still being sent.</summary>
    public bool TryStartHeartbeat() => Interlocked.Exchange(ref _heartbeatInFlight, 1) == 0;

    public void EndHeartbeat() => Volatile.Write(ref _heartbeatInFlight, 0);
}
