using Orchestrator.Worker.Collectives;
using Spectre.Console;

namespace Orchestrator.Cli.Parallel;

/// <summary>This process's collective transport, its ring membership and its replicas; disposing leaves the group.</summary>
public sealed class DataParallelGroup : IAsyncDisposable
{
    private ICollectiveTransport? _transport;
    private ProcessGroup? _ring;

    public ReplicaGroup? Replicas { get; private set; }

    /// <summary>Why the group could not be formed (peers unreachable within the timeout, a mismatched group), or null.</summary>
    public string? Error { get; private set; }

    /// <summary>Listens on this rank's endpoint and waits, up to the timeout, for the whole ring to form.</summary>
    public static async Task<DataParallelGroup> FormAsync(GroupSettings settings, IAnsiConsole console, CancellationToken cancellationToken)
    {
        var group = new DataParallelGroup();
        try
        {
            if (settings.World > 1)
            {
                var (host, port) = settings.Listen();
                group._transport = await CollectiveTransports.StartAsync(settings.Transport, host, port, cancellationToken);
                console.WriteLine($"rank {settings.Rank}/{settings.World}: listening on {group._transport.Endpoint} ({settings.Transport.ToString().ToLowerInvariant()}), forming group {settings.GroupId} with {string.Join(", ", settings.Peers)}");
                group._ring = await ProcessGroup.CreateAsync(group._transport, new ProcessGroupOptions
                {
                    GroupId = settings.GroupId,
                    Rank = settings.Rank,
                    WorldSize = settings.World,
                    Endpoints = settings.Peers,
                    Timeout = settings.Timeout,
                }, cancellationToken);
                console.WriteLine($"rank {settings.Rank}: all-reduce through {group._ring.AllReducePath}");
            }
            group.Replicas = ReplicaGroup.Create(settings.Devices, group._ring, settings.Timeout);
            console.WriteLine($"rank {settings.Rank}: {settings.Devices} replica(s), global ranks {settings.Rank * settings.Devices} to {(settings.Rank + 1) * settings.Devices - 1} of {settings.World * settings.Devices}");
        }
        catch (Exception e) when (e is CollectiveException or IOException or OperationCanceledException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            group.Error = e is OperationCanceledException ? "stopped while forming the group" : $"could not form the group: {e.Message}";
        }
        return group;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ring is not null) await _ring.DisposeAsync();
        if (_transport is not null) await _transport.DisposeAsync();
    }
}
