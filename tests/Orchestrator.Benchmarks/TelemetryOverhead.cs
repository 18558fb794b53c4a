using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Telemetry;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Training;
using TorchSharp;
using static Orchestrator.Benchmarks.Figures;

namespace Orchestrator.Benchmarks;

/// <summary>
/// telemetry_overhead: the trainer's step time with telemetry fully on (tracing and metrics providers exporting
/// OTLP/HTTP every 500 ms to a receiver in this process, the trainer's per-step instruments, epoch and sampled spans)
/// against off (no providers, no telemetry calls), in alternating rounds on one trainer; the figure is the median
/// of per-round ratios, as in trainer_overhead.
/// </summary>
public static class TelemetryOverhead
{
    public static int Run(string[] args)
    {
        int rounds = Options.Int(args, "--rounds", 20);
        int stepsPerRound = Options.Int(args, "--steps", 30);
        int threads = Options.Int(args, "--threads", 1);
        torch.set_num_threads(threads);
        Console.WriteLine($"telemetry_overhead: {rounds} rounds x {stepsPerRound} steps each, on/off alternating, {threads} intra-op thread(s)");

        var receiver = OtlpReceiver.Start();
        var spec = new TrialSpec
        {
            Seed = 1,
            Data = new DataSpec { Dataset = Datasets.MnistSubset, BatchSize = 64 },
            Model = new ModelSpec { Architecture = Architectures.Dcgan, Features = 32 },
            Latent = new LatentSpec { Dim = 64 },
            Loss = new LossSpec { Type = LossTypes.NonSaturating },
        };
        using var mnist = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, mnist, torch.CPU);
        for (int i = 0; i < 10; i++) trainer.TrainStep();

        var ratios = new List<double>();
        var onMs = new List<double>();
        var offMs = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            double on, off;
            if (r % 2 == 0) { on = TimeOn(trainer, stepsPerRound, receiver.Port); off = TimeOff(trainer, stepsPerRound); }
            else { off = TimeOff(trainer, stepsPerRound); on = TimeOn(trainer, stepsPerRound, receiver.Port); }
            onMs.Add(on);
            offMs.Add(off);
            ratios.Add(on / off);
            Console.WriteLine($"  round {r + 1}: on {on:F2} ms/step, off {off:F2} ms/step, ratio {on / off:F3}");
        }
        double overhead = Median(ratios);
        var sorted = ratios.Order().ToArray();
        Console.WriteLine($"  ratio median {overhead:F3}, interquartile range {sorted[sorted.Length / 4]:F3} .. {sorted[3 * sorted.Length / 4]:F3}");
        Console.WriteLine($"  OTLP receiver: {receiver.Requests} export requests, {receiver.Bytes} bytes");

        var dashboard = DashboardLatency.Measure(args);
        receiver.Stop();
        var figures = new Dictionary<string, object>
        {
            ["scenario"] = "telemetry_overhead",
            ["telemetry_overhead"] = Math.Round(overhead, 4),
            ["telemetry_overhead_q1"] = Math.Round(sorted[sorted.Length / 4], 4),
            ["telemetry_overhead_q3"] = Math.Round(sorted[3 * sorted.Length / 4], 4),
            ["on_ms_per_step"] = Math.Round(Median(onMs), 3),
            ["off_ms_per_step"] = Math.Round(Median(offMs), 3),
            ["rounds"] = rounds,
            ["steps_per_round"] = stepsPerRound,
            ["otlp_export_requests"] = receiver.Requests,
            ["otlp_export_bytes"] = receiver.Bytes,
            ["threads"] = threads,
        };
        foreach (var (key, value) in dashboard) figures[key] = value;
        Console.WriteLine(JsonSerializer.Serialize(figures));
        return 0;
    }

    private static double TimeOn(GanTrainer trainer, int steps, int port)
    {
        using var providers = ProcessTelemetry.Start(TelemetryNames.TrainService, "bench", null, otlp: false,
            tracing => tracing.AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri($"http://127.0.0.1:{port}/v1/traces");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 500;
            }),
            metrics => metrics.AddOtlpExporter((o, reader) =>
            {
                o.Endpoint = new Uri($"http://127.0.0.1:{port}/v1/metrics");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 500;
            }));
        using var telemetry = new TrainingTelemetry(null, "bench-sweep", 0);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
        {
            telemetry.BeforeStep(trainer.DataPosition.Epoch, trainer.Step + 1);
            long started = Stopwatch.GetTimestamp();
            var stats = trainer.TrainStep();
            telemetry.OnStep(stats.Step, started, trainer.GradientAllReduceTime, trainer.GradientAllReduceBytes, 1);
        }
        return sw.Elapsed.TotalMilliseconds / steps;
    }

    private static double TimeOff(GanTrainer trainer, int steps)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) trainer.TrainStep();
        return sw.Elapsed.TotalMilliseconds / steps;
    }


    /// <summary>An OTLP/HTTP receiver on loopback: accepts every export (an empty protobuf response is a success).</summary>
    private sealed class OtlpReceiver
    {
        private readonly WebApplication _app;
        private long _requests;
        private long _bytes;

        private OtlpReceiver(WebApplication app) => _app = app;

        public int Port { get; private set; }
        public long Requests => Interlocked.Read(ref _requests);
        public long Bytes => Interlocked.Read(ref _bytes);

        public static OtlpReceiver Start()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                Interlocked.Increment(ref receiver._requests);
                Interlocked.Add(ref receiver._bytes, body.Length);
                context.Response.ContentType = "application/x-protobuf";
                return Results.Bytes([], "application/x-protobuf");
            });
            app.StartAsync().GetAwaiter().GetResult();
            var address = app.Urls.First();
            receiver.Port = new Uri(address).Port;
            return receiver;
        }

        public void Stop() => _app.StopAsync().GetAwaiter().GetResult();
    }
}
