using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Orchestrator.Worker.Collectives;

namespace Orchestrator.Cli.Parallel;

/// <summary>
/// This process's place in a data-parallel group, from `train --rank R --world K --peers host:port,... --devices N`:
/// K processes (one ring member each, at the peers' endpoints in rank order) of N replicas each.
/// </summary>
public sealed record GroupSettings(int Rank, int World, IReadOnlyList<string> Peers, int Devices, string GroupId, TimeSpan Timeout)
{
    /// <summary>How the ring's processes talk: plain TCP (default) or gRPC; every rank must use the same.</summary>
    public CollectiveTransportKind Transport { get; init; } = CollectiveTransportKind.Tcp;

    /// <summary>Alone, with one replica: no group at all.</summary>
    public bool Single => World == 1 && Devices == 1;

    /// <summary>Reads and checks the options; a message naming the option that is wrong, or the settings.</summary>
    public static (GroupSettings? Settings, string? Error) Parse(
        int? rank, int? world, string? peers, int? devices, string? groupId, double timeoutSeconds, string trialText)
    {
        int k = world ?? 1, r = rank ?? 0, d = devices ?? 1;
        if (k < 1) return (null, $"--world must be at least 1, got {k}");
        if (d < 1) return (null, $"--devices must be at least 1, got {d}");
        if (r < 0 || r >= k) return (null, $"--rank must be between 0 and {k - 1} (--world {k}), got {r}");
        if (!double.IsFinite(timeoutSeconds) || timeoutSeconds <= 0) return (null, $"--collective-timeout must be a positive number of seconds, got {timeoutSeconds}");
        var endpoints = (peers ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (k == 1 && endpoints.Length == 0)
            return (new GroupSettings(0, 1, [], d, groupId ?? "local", TimeSpan.FromSeconds(timeoutSeconds)), null);
        if (k > 1 && peers is null) return (null, $"--world {k} needs --peers with {k} host:port endpoints, one per rank in rank order");
        if (endpoints.Length != k) return (null, $"--peers lists {endpoints.Length} endpoint(s) but --world is {k}; give one host:port per rank, in rank order");
        foreach (var endpoint in endpoints)
        {
            if (!TrySplit(endpoint, out _, out _)) return (null, $"--peers: '{endpoint}' is not host:port with a port from 1 to 65535");
        }
        if (endpoints.Distinct(StringComparer.OrdinalIgnoreCase).Count() != k) return (null, "--peers lists an endpoint twice; every rank needs its own");
        // Every rank must form the same group: by default its id derives from what they all share.
        var id = groupId ?? "train-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", trialText, string.Join(',', endpoints), k.ToString(CultureInfo.InvariantCulture), d.ToString(CultureInfo.InvariantCulture)))))[..16];
        return (new GroupSettings(r, k, endpoints, d, id, TimeSpan.FromSeconds(timeoutSeconds)), null);
    }

    /// <summary>Where this rank listens: its own peers entry's port, on that address when it is an IP, else on every interface.</summary>
    public (string Host, int Port) Listen()
    {
        TrySplit(Peers[Rank], out var host, out var port);
        return (IPAddress.TryParse(host, out _) ? host : host == "localhost" ? "localhost" : "0.0.0.0", port);
    }

    private static bool TrySplit(string endpoint, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon = endpoint.LastIndexOf(':');
        if (colon <= 0) return false;
        host = endpoint[..colon].Trim('[', ']');
        return int.TryParse(endpoint.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
    }
}
