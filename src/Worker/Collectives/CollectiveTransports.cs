namespace Orchestrator.Worker.Collectives;

/// <summary>Starts the transport a worker hosts for its process groups; <see cref="Default"/> is what training uses.</summary>
public static class CollectiveTransports
{
    /// <summary>
    /// TCP: on the allreduce benchmark (loopback, shared 2-core machine) its ring ran 5-7x faster than gRPC's and
    /// reached 0.64-1.1 of raw sockets' bus bandwidth at 64 MB over 4 processes depending on the machine's load
    /// (0.85-0.91 at 256 MB), where gRPC's reached 0.13-0.18.
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
