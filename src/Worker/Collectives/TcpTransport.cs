using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Links over plain TCP sockets with <see cref="TcpWire"/> framing: a listener that peers dial, and one socket per
/// link this process dials. One instance per process serves every group the process joins. The fast transport
/// between processes: 5-7x the all-reduce bandwidth of <see cref="GrpcTransport"/> (see AllReduceBenchmark).
/// </summary>
/// <remarks>
/// <para>
/// Same contract as the gRPC transport: the dialler sends the handshake; the accepting transport routes the link
/// to the group waiting for it (<see cref="GroupRouter"/>), whose process group answers Accepted or Abort, or the
/// transport itself answers with a refusal: "not hosted yet" (the dialler retries) or "given up" (it stops).
/// </para>
/// <para>
/// Why it exists (profiles of the allreduce benchmark, 4 processes, 64 MB, perf with the JIT's perf map): over
/// gRPC the user-space copies alone cost about twice the kernel's socket copies: each chunk is serialised into
/// gRPC's buffer, framed into HTTP/2 frames through a pipe, copied again by Kestrel's request-body pipe on the
/// other side, reassembled into a message and finally copied into the pooled payload; on top of that the HTTP/2
/// flow-control windows leave the ring waiting (wall time well above CPU time over the cores). The ring's CPU
/// time was 5-7x that of raw sockets moving the same bytes. Over plain sockets a chunk costs what raw sockets cost
/// (one kernel copy each way) plus the ring's own work: the reduce-scatter's addition, which is memory-bound and
/// inherent, and, before chunks were placed (<see cref="IChunkPlacement"/>), the all-gather's copy out of the
/// pooled payload, which was the largest avoidable cost left (about 8% of all samples; now gone).
/// </para>
/// </remarks>
public sealed class TcpTransport : ICollectiveTransport
{
    private const int Backlog = 512;
    // What a transport keeps for received payloads (see PayloadPool): 64 one-MiB chunks, the reduce-scatter of a
    // 64 MB all-reduce over 4 ranks with room to spare; bigger collectives allocate the rest.
    private const long PayloadPoolBytes = 64L * 1024 * 1024;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromMilliseconds(250);
    // After the caller gives up, an answer already on its way still gets this long (see ConnectAsync).
    private static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(1);
    // A host that drops packets must not hold one attempt for the kernel's SYN retries (minutes): retry instead.
    private static readonly TimeSpan ConnectAttemptTimeout = TimeSpan.FromSeconds(5);
    // A connection that never says who it is must not hold a handler forever.
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RefusalGrace = TimeSpan.FromSeconds(1);

    private readonly Socket _listener;
    private readonly GroupRouter _router = new();
    private readonly ConcurrentDictionary<TcpLink, byte> _links = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _accepting = Task.CompletedTask;
    private int _disposed;

    private TcpTransport(Socket listener, IPAddress address, int port)
    {
        _listener = listener;
        Port = port;
        Endpoint = new IPEndPoint(address, port).ToString();
    }

    public string Endpoint { get; }

    /// <summary>The port the listener is bound to; the one the system chose when started with port 0.</summary>
    public int Port { get; }

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Where links rent the arrays that received chunk payloads live in.</summary>
    internal ArrayPool<byte> PayloadPool { get; } = new PayloadPool(TcpWire.MaxChunkBytes, PayloadPoolBytes);

    /// <summary>Listens on <paramref name="host"/> (an IP address, or "localhost") and <paramref name="port"/> (0: any free port).</summary>
    public static Task<TcpTransport> StartAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        cancellationToken.ThrowIfCancellationRequested();
        IPAddress address = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(Backlog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var transport = new TcpTransport(listener, address, ((IPEndPoint)listener.LocalEndPoint!).Port);
        transport._accepting = transport.AcceptLoopAsync();
        return Task.FromResult(transport);
    }

    public async Task<IPeerLink> ConnectAsync(string endpoint, GroupHandshake handshake, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handshake);
        var (host, port) = ParseEndpoint(endpoint);
        TimeSpan delay = FirstRetryDelay;
        string? refusal = null;
        while (true)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            TcpLink? link = null;
            try
            {
                var socket = await DialAsync(host, port, cancellationToken).ConfigureAwait(false);
                link = new TcpLink(socket, this, $"rank {handshake.ReceiverRank} at {endpoint}");
                Track(link);
                await link.SendAsync(PeerFrame.ForHandshake(handshake), cancellationToken).ConfigureAwait(false);
                // Once the handshake is out the peer may already hold the link; giving up at the very moment it
                // answers would leave it with a link that breaks for no stated reason. So the answer gets a short
                // grace after cancellation, and a link that did come up is returned for the caller to close properly.
                using var answerWait = new CancellationTokenSource();
                using (cancellationToken.Register(() => answerWait.CancelAfter(AnswerGrace)))
                {
                    await link.PeekAsync(answerWait.Token).ConfigureAwait(false);
                }
                return link;
            }
            catch (TcpRefusedException e) when (e.Final)
            {
                link?.Kill();
                throw new IOException($"{endpoint} refused the connection: {e.Reason}", e);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or SocketException or OperationCanceledException)
            {
                // Not listening yet, or not hosting the group yet: both resolve themselves when the peer catches up.
                // (OperationCanceledException here is one attempt's connect timeout, not the caller's cancellation.)
                link?.Kill();
                refusal = e is TcpRefusedException refused ? refused.Reason : e.Message;
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                link?.Kill();
                // Our own cancellation says nothing about the peer; the last refusal it sent does.
                string detail = e is TcpRefusedException refused ? refused.Reason
                    : refusal ?? (e is OperationCanceledException ? "it did not answer in time" : e.Message);
                throw new IOException($"Gave up connecting to {endpoint}: {detail}.", e);
            }
            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException e)
            {
                throw new IOException($"Gave up connecting to {endpoint}: {refusal}.", e);
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastRetryDelay.Ticks));
        }
    }

    public Task<AcceptedPeer> AcceptAsync(string groupId, CancellationToken cancellationToken) =>
        _router.AcceptAsync(groupId, cancellationToken);

    public void Retire(string groupId, string reason) => _router.Retire(groupId, reason);

    /// <summary>Stops listening and closes every link with nothing said, as if the process died.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        _router.Close();
        foreach (var link in _links.Keys)
        {
            link.Kill();
        }
        await _accepting.ConfigureAwait(false);
        _stopping.Dispose();
    }

    internal void Track(TcpLink link)
    {
        _links.TryAdd(link, 0);
        if (IsDisposed)
        {
            link.Kill();
        }
    }

    internal void Forget(TcpLink link) => _links.TryRemove(link, out _);

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (IsDisposed)
                {
                    return;
                }
                // A connection that failed while queued (reset by its dialler) concerns only that dialler.
                continue;
            }
            _ = HandleAsync(socket);
        }
    }

    /// <summary>Reads the dialler's handshake and hands the link to its group, or refuses it saying why.</summary>
    private async Task HandleAsync(Socket socket)
    {
        TcpLink link;
        try
        {
            Configure(socket);
            link = new TcpLink(socket, this, $"{socket.RemoteEndPoint}");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            socket.Dispose();
            return;
        }
        Track(link);
        try
        {
            PeerFrame first;
            using (var handshakeWait = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
            {
                handshakeWait.CancelAfter(HandshakeTimeout);
                first = await link.ReceiveAsync(handshakeWait.Token).ConfigureAwait(false);
            }
            if (first.Kind != PeerFrameKind.Handshake)
            {
                first.Release();
                await RefuseAsync(link, "the first frame must be a handshake", final: true).ConfigureAwait(false);
                return;
            }
            var handshake = first.Handshake!;
            link.Peer = $"rank {handshake.Rank} ({link.Peer})";
            var route = _router.Route(handshake, link);
            if (route.Outcome != RouteOutcome.Delivered)
            {
                await RefuseAsync(link, route.Reason!, final: route.Outcome == RouteOutcome.Refused).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A dialler that vanished or never spoke: nobody waits for this link.
            link.Kill();
        }
    }

    private static async Task RefuseAsync(TcpLink link, string reason, bool final)
    {
        using (var grace = new CancellationTokenSource(RefusalGrace))
        {
            await link.RefuseAsync(reason, final, grace.Token).ConfigureAwait(false);
        }
        await link.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task<Socket> DialAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(ConnectAttemptTimeout);
        IPAddress address = IPAddress.TryParse(host, out var parsed) ? parsed : await ResolveAsync(host, attempt.Token).ConfigureAwait(false);
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port), attempt.Token).ConfigureAwait(false);
            Configure(socket);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        foreach (var address in addresses)
        {
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                return address;
            }
        }
        return addresses.Length > 0 ? addresses[0] : throw new SocketException((int)SocketError.HostNotFound);
    }

    private static void Configure(Socket socket)
    {
        // Every chunk and heartbeat goes out at once: Nagle would hold small frames (a 4-byte all-reduce, a
        // barrier token) for the previous segment's acknowledgement.
        socket.NoDelay = true;
        // Socket buffers are left to the kernel's autotuning (on Linux tcp_wmem / tcp_rmem, here up to 4 and 32 MiB):
        // setting SO_SNDBUF / SO_RCVBUF switches autotuning off and caps them at net.core.wmem_max / rmem_max
        // (4 MiB here), so a fixed size could only be smaller. The benchmark's raw baseline uses the same defaults.
    }

    /// <summary>"host:port", "a.b.c.d:port" or "[v6]:port".</summary>
    private static (string Host, int Port) ParseEndpoint(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        if (IPEndPoint.TryParse(endpoint, out var ip) && ip.Port != 0)
        {
            return (ip.Address.ToString(), ip.Port);
        }
        int colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) ||
            port is <= 0 or > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"'{endpoint}' is not a host:port endpoint.", nameof(endpoint));
        }
        return (endpoint[..colon], port);
    }
}
