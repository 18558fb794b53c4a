using System.Globalization;
using System.Text.RegularExpressions;
using Orchestrator.Shared.Net;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Telemetry;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>
/// Telemetry across real processes: the coordinator, a worker and the worker's trial processes export spans over
/// OTLP to a receiver inside the test, and the worker serves its per-trial figures on its Prometheus endpoint.
/// </summary>
public sealed class TelemetryTests
{
    private const int Steps = 200;
    private const int Batch = 64;

    // Two small trials: 4096 samples / 64 per step (n_critic 1) is 64 steps per data epoch, so 200 steps span
    // several epochs; evaluations and checkpoints at steps 100 and 200.
    private static readonly string GanSweep = $$"""
        sweep:
          name: e2e-telemetry
          trial:
            kind: gan
            seed: 5
            data: { dataset: ring8, batch_size: {{Batch}}, mixture_size: 4096 }
            model: { architecture: mlp, hidden: 32, layers: 2 }
            latent: { dim: 2 }
            training: { steps: {{Steps}}, n_critic: 1, log_every: 50, eval_every: 100, checkpoint_every: 100, threads: 1 }
            evaluation: { samples: 500 }
          parameters:
            - { name: optimizer.generator.lr, type: categorical, values: ["0.0002", "0.0005"] }
          objective: { metric: modes_covered, goal: maximize }
          search: { algorithm: grid }
          budget: { max_trials: 2, parallel_trials: 1 }
        """;

    [Fact]
    public async Task A_gan_sweep_across_coordinator_worker_and_trial_processes_is_one_trace_and_the_worker_serves_per_trial_metrics()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var cluster = new LocalCluster();
        var otel = receiver.Environment();
        int metricsPort = LoopbackPorts.Free();
        cluster.StartCoordinator(environment: otel);
        cluster.StartWorker("w1", environment: otel, metricsPort: metricsPort);
        await cluster.WaitForCoordinatorAsync();
        var sweepId = await cluster.SubmitAsync(GanSweep);
        var done = await cluster.WaitForAsync(sweepId, s => s.Summary.State != SweepState.Running);
        Assert.True(done.Summary.State == SweepState.Completed, $"{done}\n{cluster.Logs()}");
        Assert.Equal(2, done.Trials.Count);

        // Spans are exported as they end, batched every 200 ms: wait until the last of each kind has arrived. The
        // sweep span ends last in the coordinator, the train spans last in the trial processes.
        var spans = await receiver.WaitForAsync(s =>
                Named(s, SpanNames.Sweep).Any(x => x.Attribute(AttributeNames.SweepId) == sweepId)
                && Named(s, SpanNames.Trial).Count(x => x.Attribute(AttributeNames.SweepId) == sweepId) == 2
                && Named(s, SpanNames.WorkerAttempt).Count(x => x.Attribute(AttributeNames.SweepId) == sweepId) == 2
                && Named(s, SpanNames.Train).Count(x => x.Attribute(AttributeNames.SweepId) == sweepId) == 2,
            "the sweep's sweep, trial, worker attempt and train spans", TimeSpan.FromSeconds(30));
        string Context() => $"\nspans:\n{string.Join("\n", spans.Select(s => s.ToString()))}\n{cluster.Logs()}";

        // One trace, rooted at the submit call.
        var sweep = Assert.Single(Named(spans, SpanNames.Sweep), x => x.Attribute(AttributeNames.SweepId) == sweepId);
        var traceId = sweep.TraceId;
        var trace = spans.Where(s => s.TraceId == traceId).ToList();
        var byId = trace.ToDictionary(s => s.SpanId);
        var submit = Assert.Single(Named(trace, SpanNames.Submit));
        Assert.True(sweep.ParentSpanId == submit.SpanId, $"the sweep span's parent is {sweep.ParentSpanId}, not the submit span {submit.SpanId}{Context()}");
        // Above the submit span there is at most the coordinator's own gRPC server span of the call.
        if (submit.ParentSpanId.Length > 0 && byId.TryGetValue(submit.ParentSpanId, out var call))
            Assert.Equal(TelemetryNames.CoordinatorService, call.Service);

        // The three kinds of process say who they are.
        foreach (var (name, service) in new[]
                 {
                     (SpanNames.Submit, TelemetryNames.CoordinatorService), (SpanNames.Sweep, TelemetryNames.CoordinatorService),
                     (SpanNames.Trial, TelemetryNames.CoordinatorService), (SpanNames.Attempt, TelemetryNames.CoordinatorService),
                     (SpanNames.WorkerAttempt, TelemetryNames.WorkerService), (SpanNames.ArtifactUpload, TelemetryNames.WorkerService),
                     (SpanNames.Train, TelemetryNames.TrainService), (SpanNames.Epoch, TelemetryNames.TrainService),
                     (SpanNames.Evaluation, TelemetryNames.TrainService), (SpanNames.Checkpoint, TelemetryNames.TrainService),
                 })
            Assert.All(Named(spans, name), s => Assert.True(s.Service == service, $"{s} has service.name {s.Service}, expected {service}"));

        // Everything the worker agent and the trial processes traced belongs to the coordinator's trace.
        var workerAndTrain = spans.Where(s => s.Service == TelemetryNames.TrainService
                                              || (s.Service == TelemetryNames.WorkerService && s.Scope == TelemetryNames.WorkerAgent)).ToList();
        Assert.NotEmpty(workerAndTrain);
        Assert.All(workerAndTrain, s => Assert.True(s.TraceId == traceId, $"{s} is not in the sweep's trace {traceId}{Context()}"));

        // No span of the trace hangs off a parent that never arrived (the submit call's own parent aside).
        var orphans = trace.Where(s => s != submit && !(submit.ParentSpanId.Length > 0 && s.SpanId == submit.ParentSpanId))
            .Where(s => s.ParentSpanId.Length == 0 || !byId.ContainsKey(s.ParentSpanId)).ToList();
        Assert.True(orphans.Count == 0, $"spans whose parent is not in the trace:\n{string.Join("\n", orphans)}{Context()}");

        var trials = Named(trace, SpanNames.Trial).ToList();
        Assert.Equal(["0", "1"], trials.Select(t => t.Attribute(AttributeNames.TrialNumber)).Order());
        foreach (var trial in trials)
        {
            var number = trial.Attribute(AttributeNames.TrialNumber);
            Assert.True(trial.ParentSpanId == sweep.SpanId, $"trial {number}'s span is not a child of the sweep span{Context()}");

            var attempt = Assert.Single(Children(trace, trial, SpanNames.Attempt));
            Assert.Equal(number, attempt.Attribute(AttributeNames.TrialNumber));

            var workerAttempt = Assert.Single(Children(trace, attempt, SpanNames.WorkerAttempt));
            Assert.Equal(number, workerAttempt.Attribute(AttributeNames.TrialNumber));
            Assert.Equal("w1", workerAttempt.Attribute(AttributeNames.WorkerId));
            // The worker uploads checkpoints, samples and the metrics log under its attempt span.
            Assert.Contains(Children(trace, workerAttempt, SpanNames.ArtifactUpload), u => u.Attribute(AttributeNames.ArtifactKind) == "checkpoint");

            var train = Assert.Single(Children(trace, workerAttempt, SpanNames.Train));
            Assert.Equal(number, train.Attribute(AttributeNames.TrialNumber));
            Assert.Equal(sweepId, train.Attribute(AttributeNames.SweepId));
            Assert.Equal("completed", train.Attribute("orchestrator.train.status"));

            // Epochs 0, 1, 2, ... in order, each a child of the train span.
            var epochs = Children(trace, train, SpanNames.Epoch).ToList();
            Assert.True(epochs.Count >= 3, $"trial {number}: {epochs.Count} epoch span(s) for {Steps} steps of 64 per epoch{Context()}");
            Assert.Equal(Enumerable.Range(0, epochs.Count), epochs.Select(e => int.Parse(e.Attribute(AttributeNames.Epoch)!, CultureInfo.InvariantCulture)).Order());
            // Each epoch's span opens before its first step: 64 batches an epoch, one batch a step (n_critic 1).
            Assert.All(epochs, e => Assert.Equal(
                (int.Parse(e.Attribute(AttributeNames.Epoch)!, CultureInfo.InvariantCulture) * 64 + 1).ToString(CultureInfo.InvariantCulture),
                e.Attribute(AttributeNames.Step)));

            // Evaluations and checkpoints at steps 100 and 200, inside the epoch they happened in.
            var epochIds = epochs.Select(e => e.SpanId).ToHashSet();
            foreach (var kind in new[] { SpanNames.Evaluation, SpanNames.Checkpoint })
            {
                var inTrial = trace.Where(s => s.Name == kind && s.Service == TelemetryNames.TrainService && epochIds.Contains(s.ParentSpanId)).ToList();
                Assert.True(inTrial.Select(s => s.Attribute(AttributeNames.Step)).Order().SequenceEqual(["100", "200"]),
                    $"trial {number}: {kind} spans at steps [{string.Join(", ", inTrial.Select(s => s.Attribute(AttributeNames.Step)))}] under its epochs, expected [100, 200]{Context()}");
            }
        }
        // ... and none elsewhere: every evaluation and checkpoint span was one of those.
        Assert.Equal(4, Named(trace, SpanNames.Evaluation).Count());
        Assert.Equal(4, Named(trace, SpanNames.Checkpoint).Count());

        await AssertWorkerMetricsAsync(metricsPort, sweepId, cluster);
    }

    /// <summary>The worker's /metrics after both trials: the documented per-trial figures with plausible values.</summary>
    private static async Task AssertWorkerMetricsAsync(int port, string sweepId, LocalCluster cluster)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var text = await http.GetStringAsync(ServiceDefaultsExtensions.MetricsPath);
        string Context() => $"\n/metrics:\n{text}\n{cluster.Logs()}";

        foreach (var metric in MetricNames.All.Where(m => m.Meter == TelemetryNames.WorkerAgent))
            Assert.True(text.Contains($"# TYPE {metric.Prometheus} ", StringComparison.Ordinal), $"no {metric.Prometheus} ({metric.Name}){Context()}");
        // Runtime instrumentation: the .NET runtime's own meter.
        Assert.True(Regex.IsMatch(text, @"^dotnet_gc_collections_total\{", RegexOptions.Multiline), $"no .NET runtime metrics{Context()}");

        var sweep = $"{Prom(AttributeNames.SweepId)}=\"{sweepId}\"";
        foreach (var trial in new[] { 0, 1 })
        {
            var labels = new[] { sweep, $"{Prom(AttributeNames.TrialNumber)}=\"{trial}\"" };
            double Single(string name, params string[] more)
            {
                var values = Values(text, name, [.. labels, .. more]);
                Assert.True(values.Count == 1, $"{values.Count} samples of {name} with {string.Join(", ", labels.Concat(more))}{Context()}");
                return values[0];
            }

            Assert.Equal(Steps, Single("orchestrator_train_step"));
            Assert.Equal(Steps * Batch, Single("orchestrator_train_samples_total"));
            var throughput = Single("orchestrator_train_throughput_per_second");
            Assert.True(throughput > 0 && double.IsFinite(throughput), $"trial {trial}: {throughput} samples/s");
            foreach (var network in new[] { AttributeNames.Discriminator, AttributeNames.Generator })
            {
                var loss = Single("orchestrator_train_loss", $"{Prom(AttributeNames.Network)}=\"{network}\"");
                Assert.True(double.IsFinite(loss), $"trial {trial}: {network} loss {loss}");
            }
            // ring8 has eight modes: the objective's figure is a count of them.
            var modes = Single("orchestrator_eval_value", $"{Prom(AttributeNames.EvalMetric)}=\"modes_covered\"");
            Assert.InRange(modes, 0, 8);
        }
    }

    private static IEnumerable<OtlpReceiver.ReceivedSpan> Named(IEnumerable<OtlpReceiver.ReceivedSpan> spans, string name) =>
        spans.Where(s => s.Name == name);

    private static IEnumerable<OtlpReceiver.ReceivedSpan> Children(IEnumerable<OtlpReceiver.ReceivedSpan> spans, OtlpReceiver.ReceivedSpan parent, string name) =>
        spans.Where(s => s.Name == name && s.ParentSpanId == parent.SpanId);

    /// <summary>An attribute key as a Prometheus label (dots to underscores).</summary>
    private static string Prom(string attribute) => attribute.Replace('.', '_');

    /// <summary>The values of every sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    private static List<double> Values(string exposition, string name, string[] labels)
    {
        var values = new List<double>();
        foreach (Match m in Regex.Matches(exposition, $@"^{Regex.Escape(name)}(\{{[^}}]*\}})? (\S+)", RegexOptions.Multiline))
        {
            if (!labels.All(l => m.Groups[1].Value.Contains(l, StringComparison.Ordinal))) continue;
            values.Add(double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        return values;
    }
}
