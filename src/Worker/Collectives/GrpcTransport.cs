using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Links over gRPC: a Kestrel server (HTTP/2 cleartext) that peers dial, and one channel per peer endpoint this
/// process dials. One instance per process serves every group the process joins.
/// </summary>
public sealed class GrpcTransport : ICollectiveTransport
{
    /// <summary>Largest chunk a group may use; messages add a few bytes of header to it.</summary>
    public const int MaxChunkBytes = 16 * 1024 * 1024;

    private const int MaxMessageBytes = MaxChunkBytes + 64 * 1024;
    // HTTP/2 flow-control windows: the defaults (1 MiB per connection, 768 KiB per stream) stall a stream of
    // 1 MiB chunks on every chunk; a window of a few chunks keeps the pipe full on loopback.
    private const int ConnectionWindowBytes = 16 * 1024 * 1024;
    private const int StreamWindowBytes = 8 * 1024 * 1024;
    // Frames the dialling side may send us. Measured (4 ranks in one process, 64 MB all-reduce): 1 MiB frames ran
    // about 1.4x faster than the default 16 KiB, since every frame costs the HTTP/2 stack a fixed amount of work;
    // 256 KiB and 4 MiB were within the noise of 1 MiB.
    private const int MaxFrameBytes = 1024 * 1024;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(1);

    private WebApplication? _server;
    private readonly GroupRouter _router = new();
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IPeerLink, byte> _links = new();
    private int _disposed;

    private GrpcTransport()
    {
    }

    public string Endpoint { get; private set; } = "";

    /// <summary>The port the server listens on; the one the system chose when started with port 0.</summary>
    public int Port { get; private set; }

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Starts the server on <paramref name="host"/> (an IP address) and <paramref name="port"/> (0: any free port).</summary>
    public static async Task<GrpcTransport> StartAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        IPAddress address = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        var transport = new GrpcTransport();
        var builder = WebApplication.CreateSlimBuilder();
        // A library must not write to the console of the process that hosts it.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(address, port, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.AddServerHeader = false;
            // The Exchange streams live as long as their groups and are quiet between steps: no body size cap and
            // no minimum data rate (heartbeats are far below Kestrel's default 240 bytes/s).
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.Http2.InitialConnectionWindowSize = ConnectionWindowBytes;
            kestrel.Limits.Http2.InitialStreamWindowSize = StreamWindowBytes;
            kestrel.Limits.Http2.MaxFrameSize = MaxFrameBytes;
        });
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = MaxMessageBytes;
            grpc.MaxSendMessageSize = MaxMessageBytes;
        });
        // The service is created per call and reaches this transport through the container.
        builder.Services.AddSingleton(transport);
        var app = builder.Build();
        app.MapGrpcService<CollectivePeerService>();
        transport._server = app;
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()
            ?? throw new InvalidOperationException("Kestrel did not report the address it bound.");
        var bound = new Uri(addresses.Addresses.First());
        transport.Port = bound.Port;
        transport.Endpoint = new IPEndPoint(address, bound.Port).ToString();
        return transport;
    }

    public async Task<IPeerLink> ConnectAsync(string endpoint, GroupHandshake handshake, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handshake);
        var invoker = Channel(endpoint).CreateCallInvoker();
        TimeSpan delay = FirstRetryDelay;
        string? refusal = null;
        while (true)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            var callCancellation = new CancellationTokenSource();
            // No deadline: the call lives as long as the group. Liveness comes from the group's heartbeats instead.
            var call = invoker.AsyncDuplexStreamingCall(PeerWire.Exchange, null, new CallOptions(cancellationToken: callCancellation.Token));
            var link = new GrpcClientLink(call, callCancellation, this, endpoint);
            try
            {
                await link.SendAsync(PeerFrame.ForHandshake(handshake), cancellationToken).ConfigureAwait(false);
                // Once the handshake is out the peer may already hold the link; giving up at the very moment it
                // answers would leave it with a link that breaks for no stated reason. So the answer gets a short
                // grace after cancellation, and a link that did come up is returned for the caller to close properly.
                using var answerWait = new CancellationTokenSource();
                using (cancellationToken.Register(() => answerWait.CancelAfter(AnswerGrace)))
                {
                    await link.PeekAsync(answerWait.Token).ConfigureAwait(false);
                }
                Track(link);
                return link;
            }
            catch (GrpcLinkException e) when (e.Status == StatusCode.FailedPrecondition)
            {
                link.Kill();
                throw new IOException($"{endpoint} refused the connection: {((RpcException)e.InnerException!).Status.Detail}", e);
            }
            catch (IOException e) when (!cancellationToken.IsCancellationRequested)
            {
                // Not listening yet, or not hosting the group yet: both resolve themselves when the peer catches up.
                link.Kill();
                refusal = e.InnerException is RpcException rpc ? rpc.Status.Detail : e.Message;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                link.Kill();
                // Our own cancellation says nothing about the peer; the last refusal it sent does.
                string detail = e.InnerException is RpcException { StatusCode: not StatusCode.Cancelled } rpc ? rpc.Status.Detail
                    : refusal ?? (e is IOException ? e.Message : "it did not answer in time");
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

    /// <summary>Stops the server and resets every link with nothing said, as if the process died.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _router.Close();
        foreach (var link in _links.Keys)
        {
            switch (link)
            {
                case GrpcClientLink client:
                    client.Kill();
                    break;
                case GrpcServerLink server:
                    server.Kill();
                    break;
            }
        }
        // Already cancelled: Kestrel aborts open connections instead of waiting for the streams to finish.
        using (var now = new CancellationTokenSource())
        {
            await now.CancelAsync().ConfigureAwait(false);
            await _server!.StopAsync(now.Token).ConfigureAwait(false);
        }
        await _server.DisposeAsync().ConfigureAwait(false);
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }

    internal RouteResult Route(GroupHandshake handshake, GrpcServerLink link)
    {
        Track(link);
        var route = _router.Route(handshake, link);
        if (route.Outcome != RouteOutcome.Delivered)
        {
            Forget(link);
        }
        return route;
    }

    internal void Track(IPeerLink link)
    {
        _links.TryAdd(link, 0);
        if (IsDisposed)
        {
            (link as GrpcClientLink)?.Kill();
            (link as GrpcServerLink)?.Kill();
        }
    }

    internal void Forget(IPeerLink link) => _links.TryRemove(link, out _);

    private GrpcChannel Channel(string endpoint) => _channels.GetOrAdd(endpoint, static e => GrpcChannel.ForAddress(
        $"http://{e}",
        new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                // A host that drops packets must not hold one attempt for the default 15 s: connecting retries instead.
                ConnectTimeout = TimeSpan.FromSeconds(5),
            },
            MaxReceiveMessageSize = MaxMessageBytes,
            MaxSendMessageSize = MaxMessageBytes,
        }));
}
