namespace Orchestrator.Worker.Collectives;

/// <summary>Starts the transport a worker hosts for its process groups; <see cref="Default"/> is what training uses.</summary>
public static class CollectiveTransports
{
    /// <summary>
    /// TCP: on the allreduce benchmark (4 processes, 64 MB, loopback) its ring reaches about 0.8-0.9 of raw sockets'
    /// bus bandwidth, gRPC's about 0.15-0.2.
    /// </summary>
    public const CollectiveTransportKind Default = CollectiveTransportKind.Tcp;

    /// <summary>Listens on <paramref name="host"/> (an IP address or "localhost") and <paramref name="port"/> (0: any free port).</summary>
    /// <remarks>Every rank of a group must use the same kind: the two do not speak to each other.</remarks>
    public static async Task<ICollectiveTransport> StartAsync(
        CollectiveTransportKind kind, string host, int port, CancellationToken cancellationToken = default) => kind switch
        {
            CollectiveTransportKind.Tcp => await TcpTransport.StartAsync(host, port, cancellationToken).ConfigureAwait(false),
            CollectiveTransportKind.Grpc => await GrpcTransport.StartAsync(host, port, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown transport kind."),
        };

    /// <summary>Listens with the <see cref="Default"/> transport.</summary>
    public static Task<ICollectiveTransport> StartAsync(string host, int port, CancellationToken cancellationToken = default) =>
        StartAsync(Default, host, port, cancellationToken);

    /// <summary>Reads "tcp" or "grpc" (any case), as a command-line flag or configuration value gives it.</summary>
    /// <exception cref="ArgumentException">Neither.</exception>
    public static CollectiveTransportKind Parse(string name) =>
        name.Trim().ToLowerInvariant() switch
        {
            "tcp" => CollectiveTransportKind.Tcp,
            "grpc" => CollectiveTransportKind.Grpc,
            _ => throw new ArgumentException($"Unknown collective transport '{name}': expected 'tcp' or 'grpc'.", nameof(name)),
        };
}
