using System.Net;
using System.Net.Sockets;
using Orchestrator.Shared.Net;

namespace Orchestrator.Shared.Tests.Net;

public class LoopbackPortsTests
{
    [Fact]
    public void Ports_are_bindable_never_handed_out_twice_and_below_the_ephemeral_range()
    {
        var ports = Enumerable.Range(0, 300).Select(_ => LoopbackPorts.Free()).ToList();
        var first = LoopbackPorts.FreeRange(4);
        ports.AddRange(Enumerable.Range(first, 4));
        ports.AddRange(LoopbackPorts.Endpoints(3).Select(e => int.Parse(e.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(ports.Count, ports.Distinct().Count());
        var range = File.Exists("/proc/sys/net/ipv4/ip_local_port_range")
            ? File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            : null;
        if (range is not null && int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture) is var low && low - 2000 >= 1024)
            Assert.All(ports, p => Assert.InRange(p, 1024, low - 1));
        foreach (var port in ports.TakeLast(10))
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }

    [Fact]
    public void A_port_another_socket_holds_is_never_handed_out()
    {
        // Hold a few hundred ports of the range the draws come from, bound directly (not through LoopbackPorts): the
        // draws below land on some of them, and each must be passed over.
        var first = LoopbackPorts.Free();
        var held = new List<TcpListener>();
        try
        {
            for (var port = Math.Max(1024, first - 150); port < first + 150 && port < 65536; port++)
            {
                try
                {
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    held.Add(listener);
                }
                catch (SocketException)
                {
                }
            }
            var busy = held.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToHashSet();
            Assert.True(busy.Count > 100);
            for (var i = 0; i < 400; i++)
            {
                var drawn = LoopbackPorts.FreeRange(3);
                Assert.DoesNotContain(drawn, busy);
                Assert.DoesNotContain(drawn + 1, busy);
                Assert.DoesNotContain(drawn + 2, busy);
            }
        }
        finally
        {
            held.ForEach(l => l.Stop());
        }
    }
}
