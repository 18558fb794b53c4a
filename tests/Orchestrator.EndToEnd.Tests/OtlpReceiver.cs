using System.IO.Compression;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestrator.EndToEnd.Tests.Otlp;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>
/// A minimal OTLP/HTTP collector inside the test: Kestrel on 127.0.0.1, protobuf POSTs on /v1/traces kept as
/// decoded spans; /v1/metrics and /v1/logs accepted and dropped (the processes export them too, and a refusal would
/// only fill their logs with retries). What the real processes export is what the tests read.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<ReceivedSpan> _spans = [];

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>One span with the resource that exported it.</summary>
    public sealed record ReceivedSpan(Span Span, string Service, string Scope)
    {
        public string Name => Span.Name;
        public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);
        public string SpanId => Convert.ToHexStringLower(Span.SpanId.Span);
        public string ParentSpanId => Convert.ToHexStringLower(Span.ParentSpanId.Span);

        /// <summary>An attribute as text (strings as they are, integers and doubles invariant), or null.</summary>
        public string? Attribute(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value is { } v ? Text(v) : null;

        public override string ToString() => $"{Service} {Name} span={SpanId} parent={(ParentSpanId.Length == 0 ? "-" : ParentSpanId)} trace={TraceId}";
    }

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Environment variables that point a process's OpenTelemetry SDK here, exporting within a fraction of a second.</summary>
    public Dictionary<string, string> Environment() => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
        ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
    };

    public IReadOnlyList<ReceivedSpan> Spans
    {
        get { lock (_spans) return [.. _spans]; }
    }

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async context =>
        {
            var request = ExportTraceServiceRequest.Parser.ParseFrom(await BodyAsync(context.Request));
            receiver.Add(request);
            await RespondAsync(context, new ExportTraceServiceResponse());
        });
        // Empty messages are valid Export*ServiceResponses of any signal.
        app.MapPost("/v1/metrics", async context => { await BodyAsync(context.Request); await RespondAsync(context, new ExportTraceServiceResponse()); });
        app.MapPost("/v1/logs", async context => { await BodyAsync(context.Request); await RespondAsync(context, new ExportTraceServiceResponse()); });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    /// <summary>Polls the received spans until <paramref name="done"/> holds; fails with what did arrive otherwise.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(Func<IReadOnlyList<ReceivedSpan>, bool> done, string what, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (true)
        {
            var spans = Spans;
            if (done(spans)) return spans;
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"the OTLP receiver did not get {what} within {limit.TotalSeconds:F0} s; it got {spans.Count} span(s):\n" +
                    string.Join("\n", spans.Select(s => s.ToString())));
            await Task.Delay(100);
        }
    }

    private void Add(ExportTraceServiceRequest request)
    {
        var received = new List<ReceivedSpan>();
        foreach (var resource in request.ResourceSpans)
        {
            var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value is { } v ? Text(v) : "";
            foreach (var scope in resource.ScopeSpans)
                foreach (var span in scope.Spans)
                    received.Add(new ReceivedSpan(span, service, scope.Scope?.Name ?? ""));
        }
        lock (_spans) _spans.AddRange(received);
    }

    private static async Task<byte[]> BodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        // The .NET exporter does not compress by default; others (and OTEL_EXPORTER_OTLP_COMPRESSION) may gzip.
        if (request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            await using var gzip = new GZipStream(request.Body, CompressionMode.Decompress);
            await gzip.CopyToAsync(buffer);
        }
        else await request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static async Task RespondAsync(HttpContext context, IMessage response)
    {
        context.Response.ContentType = "application/x-protobuf";
        await context.Response.Body.WriteAsync(response.ToByteArray());
    }

    private static string Text(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        _ => value.ToString(),
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
