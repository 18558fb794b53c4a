using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Shared.Net;

/// <summary>Free TCP ports on the loopback interface, for local clusters, tests and benchmarks.</summary>
/// <remarks>A port is free when asked; another process may still take it before it is bound again.</remarks>
public static class LoopbackPorts
{
    /// <summary>A port the kernel reports free.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary><paramref name="count"/> free ports as 127.0.0.1:port endpoints.</summary>
    public static string[] Endpoints(int count)
    {
        // Held open together so the kernel hands out distinct ports.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var endpoints = listeners.Select(l => $"127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}").ToArray();
        listeners.ForEach(l => l.Stop());
        return endpoints;
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports (a worker's slots listen on port + slot).</summary>
    /// <exception cref="InvalidOperationException">No such run was found.</exception>
    public static int FreeRange(int count)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int first = Random.Shared.Next(20000, 60000 - count);
            var listeners = new List<TcpListener>();
            try
            {
                for (int i = 0; i < count; i++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, first + i);
                    listener.Start();
                    listeners.Add(listener);
                }
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
        throw new InvalidOperationException($"no {count} consecutive free ports found on the loopback interface");
    }
}
