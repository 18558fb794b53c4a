namespace Orchestrator.Worker.Collectives;

/// <summary>The accepting transport answered a handshake with a refusal instead of routing the link.</summary>
internal sealed class TcpRefusedException(string reason, bool final) : IOException(reason)
{
    public string Reason { get; } = reason;

    /// <summary>True when retrying cannot help (the group was given up or already has this neighbour).</summary>
    public bool Final { get; } = final;
}
