using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Shared.Net;

/// <summary>
/// Free loopback ports for processes started side by side (tests, benchmarks, `orchestrator up`). Ports are drawn at
/// random from below the kernel's ephemeral range, so neither outgoing connections nor another process's bind to
/// port 0 can take one between the draw and its owner's bind, and a port is handed out at most once per process.
/// </summary>
public static class LoopbackPorts
{
    private static readonly HashSet<int> HandedOut = [];
    private static readonly (int Low, int High) Range = DrawRange();

    /// <summary>A port the kernel reports free.</summary>
    public static int Free() => FreeRange(1);

    /// <summary><paramref name="count"/> free ports as 127.0.0.1:port endpoints.</summary>
    public static string[] Endpoints(int count) =>
        Enumerable.Range(0, count).Select(_ => $"127.0.0.1:{Free()}").ToArray();

    /// <summary>The first of <paramref name="count"/> consecutive free ports (a worker's slots listen on port + slot).</summary>
    /// <exception cref="InvalidOperationException">No such run was found.</exception>
    public static int FreeRange(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        lock (HandedOut)
        {
            for (int attempt = 0; attempt < 200; attempt++)
            {
                int first = Random.Shared.Next(Range.Low, Range.High - count);
                if (Enumerable.Range(first, count).Any(HandedOut.Contains)) continue;
                var listeners = new List<TcpListener>();
                try
                {
                    for (int i = 0; i < count; i++)
                    {
                        var listener = new TcpListener(IPAddress.Loopback, first + i);
                        listener.Start();
                        listeners.Add(listener);
                    }
                    for (int i = 0; i < count; i++) HandedOut.Add(first + i);
                    return first;
                }
                catch (SocketException)
                {
                }
                finally
                {
                    foreach (var listener in listeners) listener.Stop();
                }
            }
        }
        throw new InvalidOperationException($"no {count} consecutive free ports found on the loopback interface in {Range.Low}-{Range.High - 1}");
    }

    /// <summary>
    /// [low, high): the 12,000 ports below the kernel's ephemeral range (Linux: net.ipv4.ip_local_port_range, by
    /// default 32768-60999), or 20000-60000 where that range cannot be read or leaves no room below it.
    /// </summary>
    private static (int Low, int High) DrawRange()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], out var ephemeralLow) && ephemeralLow - 2000 >= 1024)
                return (Math.Max(1024, ephemeralLow - 12000), ephemeralLow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return (20000, 60000);
    }
}
