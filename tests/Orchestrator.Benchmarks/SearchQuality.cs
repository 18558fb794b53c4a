using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Shared.Net;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Sweeps;
using Orchestrator.Worker.Agent;
using static Orchestrator.Benchmarks.Figures;

namespace Orchestrator.Benchmarks;

/// <summary>
/// search_quality: what the searchers buy on real GAN trials, through the real coordinator (Orleans silo, SQLite,
/// gRPC on loopback), real worker agents and real `orchestrator train` trial processes.
/// <list type="number">
/// <item>Random search against ASHA on grid25 (WGAN-GP): wall time from each sweep's submission until the first
/// evaluation of any of its trials with at least 24 of 25 modes and 80% high-quality samples, and the best
/// objective (high_quality_fraction) each sweep reaches. Both sweeps run side by side, at the same time, with one
/// trial slot and one intra-op thread each, so each has about one of this machine's two cores and both see the
/// same load from whatever else runs. They draw the same configurations (same searcher seed: random search's
/// trial n is the same point whatever the stopper does, and the trials' own seed is fixed, so a configuration
/// trains the same way in both), with the same max_trials and steps per trial; ASHA only stops some early
/// (judged on modes_covered at rungs min_resource·η^k below the last step).</item>
/// <item>PBT against random search at equal total steps on ring8: a population of P members against P random
/// trials of the same steps (PBT starts its members from the same random points), side by side; the best
/// objectives and the training steps each actually spent (an exploit can skip or repeat steps).</item>
/// <item>TPE's suggestion time after 1,000 finished trials: <see cref="SearcherCost.MeasureSuggest"/>.</item>
/// </list>
/// `--quick` only shrinks the sizes (steps, trials, population); the code path is the full run's.
/// </summary>
public static class SearchQuality
{
    private const int TargetModes = 24;
    private const double TargetHighQuality = 0.8;
    private const string ModesMetric = "modes_covered";
    private const string HighQualityMetric = "high_quality_fraction";

    private sealed record Settings(
        bool Quick, int MaxTrials, int Steps, int EvalEvery, int MinResource, int ReductionFactor, string AshaMetric, int Seed,
        int Population, int PbtSteps, int ReadyInterval, int TpeFinished, int TpeSamples);

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        var settings = new Settings(
            Quick: quick,
            MaxTrials: Options.Int(args, "--max-trials", quick ? 3 : 8),
            Steps: Options.Int(args, "--steps", quick ? 500 : 3000),
            EvalEvery: Options.Int(args, "--eval-every", quick ? 100 : 250),
            MinResource: Options.Int(args, "--min-resource", quick ? 100 : 500),
            ReductionFactor: Options.Int(args, "--reduction-factor", 3),
            // Mode coverage rather than the objective: early on most trials' samples are still off every mode
            // (high-quality fraction 0 for all, a tie that stops nobody), while a trial heading somewhere already
            // touches some modes; covering all 25 is also the hard half of the target (published GANs: 3 to 25).
            AshaMetric: Options.String(args, "--asha-metric", ModesMetric),
            Seed: Options.Int(args, "--seed", 1),
            Population: Options.Int(args, "--population", quick ? 2 : 4),
            PbtSteps: Options.Int(args, "--pbt-steps", quick ? 600 : 2000),
            ReadyInterval: Options.Int(args, "--ready-interval", quick ? 150 : 250),
            TpeFinished: Options.Int(args, "--tpe-finished", 1000),
            TpeSamples: Options.Int(args, "--tpe-samples", 50));
        return RunAsync(settings).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(Settings s)
    {
        Console.WriteLine(Inv($"search_quality{(s.Quick ? " (--quick)" : "")}: grid25 WGAN-GP, random search against ASHA ") +
            Inv($"({s.AshaMetric}, min_resource {s.MinResource}, reduction_factor {s.ReductionFactor}), {s.MaxTrials} trials x {s.Steps} steps, side by side ") +
            Inv($"with 1 slot x 1 thread each; target: a trial evaluated at >= {TargetModes} modes and >= {TargetHighQuality * 100}% high quality"));
        Console.WriteLine(Inv($"  then ring8 PBT (population {s.Population}, ready_interval {s.ReadyInterval}) against {s.Population} random trials, ") +
            Inv($"{s.PbtSteps} steps each, side by side; then TPE suggestion time after {s.TpeFinished} finished trials"));

        // First, while nothing of ours trains: a suggestion's cost is a few milliseconds, easily drowned.
        var tpe = SearcherCost.MeasureSuggest(s.TpeFinished, s.TpeSamples);
        Console.WriteLine(Inv($"  tpe suggest at {tpe.Searcher.CompletedCount} finished: median {tpe.MedianMs:F2} ms, p95 {tpe.P95Ms:F2} ms (target < 50 ms)"));

        var data = Directory.CreateTempSubdirectory("orchestrator-search-quality-").FullName;
        await using var cluster = await Cluster.StartAsync(data, workers: 2, slotsPerWorker: Math.Max(1, s.Population));
        var jobs = cluster.Jobs;

        // Part 1: random against ASHA. The same template and space; only early_stopping differs.
        string grid25 = Grid25Sweep(s);
        var randomSpec = SweepSpecReader.FromYaml(grid25.Replace("{name}", "search-quality-random", StringComparison.Ordinal)
            .Replace("{early_stopping}", "none", StringComparison.Ordinal));
        var ashaSpec = SweepSpecReader.FromYaml(grid25.Replace("{name}", "search-quality-asha", StringComparison.Ordinal)
            .Replace("{early_stopping}", Inv($"asha, metric: {s.AshaMetric}, min_resource: {s.MinResource}, reduction_factor: {s.ReductionFactor}"), StringComparison.Ordinal));
        var rungs = new List<int>();
        for (long r = s.MinResource; r < s.Steps; r *= s.ReductionFactor) rungs.Add((int)r);
        Console.WriteLine(Inv($"  part 1: ASHA rungs at steps [{string.Join(", ", rungs)}] of {s.Steps}; judged on {s.AshaMetric}; the objective is {HighQualityMetric}"));
        var part1 = await Task.WhenAll(
            RunSweepAsync(jobs, "random", randomSpec),
            RunSweepAsync(jobs, "asha", ashaSpec));
        var (random, asha) = (part1[0], part1[1]);
        foreach (var r in part1)
            Console.WriteLine(r.SecondsToTarget is { } t
                ? Inv($"  {r.Label}: target reached after {t:F1} s (trial {r.TargetTrial} at step {r.TargetStep}); best objective {Format(r.BestObjective)}; sweep took {r.Seconds:F1} s, {r.TotalSteps} steps trained")
                : Inv($"  {r.Label}: target NOT reached within its {s.MaxTrials} trials (reported as null); best objective {Format(r.BestObjective)}; sweep took {r.Seconds:F1} s, {r.TotalSteps} steps trained"));

        Console.WriteLine((random.SecondsToTarget, asha.SecondsToTarget) switch
        {
            ({ } r, { } a) => Inv($"  part 1: ASHA reached the target in {a / r:F2} of random search's time ({a:F1} s against {r:F1} s)"),
            (null, { } a) => Inv($"  part 1: only ASHA reached the target ({a:F1} s)"),
            ({ } r, null) => Inv($"  part 1: only random search reached the target ({r:F1} s); ASHA stopped or never met a trial that reaches it"),
            _ => "  part 1: neither search reached the target within its trials: no time to compare (more --max-trials, or another --seed)",
        });

        // Part 2: PBT against random search at equal steps.
        string ring8 = Ring8Sweep(s);
        var pbtSpec = SweepSpecReader.FromYaml(ring8.Replace("{name}", "search-quality-pbt", StringComparison.Ordinal)
            .Replace("{search}", Inv($"pbt, seed: {s.Seed}, population: {s.Population}, ready_interval: {s.ReadyInterval}"), StringComparison.Ordinal));
        var equalSpec = SweepSpecReader.FromYaml(ring8.Replace("{name}", "search-quality-random-equal-steps", StringComparison.Ordinal)
            .Replace("{search}", Inv($"random, seed: {s.Seed}"), StringComparison.Ordinal));
        var part2 = await Task.WhenAll(
            RunSweepAsync(jobs, "pbt", pbtSpec),
            RunSweepAsync(jobs, "random-equal-steps", equalSpec));
        var (pbt, equal) = (part2[0], part2[1]);
        foreach (var r in part2)
            Console.WriteLine(Inv($"  {r.Label}: best objective {Format(r.BestObjective)}, {r.TotalSteps} steps trained in {r.Seconds:F1} s, {r.Exploits} exploits"));

        await cluster.DisposeAsync();
        Directory.Delete(data, recursive: true);

        var figures = new Dictionary<string, object?>
        {
            ["random_seconds_to_target"] = Round(random.SecondsToTarget, 1),
            ["asha_seconds_to_target"] = Round(asha.SecondsToTarget, 1),
            ["random_best_objective"] = Round(random.BestObjective, 4),
            ["asha_best_objective"] = Round(asha.BestObjective, 4),
            ["random_best_modes"] = random.BestModes,
            ["asha_best_modes"] = asha.BestModes,
            ["random_target_trial"] = random.TargetTrial,
            ["asha_target_trial"] = asha.TargetTrial,
            ["random_sweep_seconds"] = Math.Round(random.Seconds, 1),
            ["asha_sweep_seconds"] = Math.Round(asha.Seconds, 1),
            ["random_total_steps"] = random.TotalSteps,
            ["asha_total_steps"] = asha.TotalSteps,
            ["asha_trials_stopped_early"] = asha.StoppedEarly,
            ["random_state"] = random.State,
            ["asha_state"] = asha.State,
            ["pbt_best_objective"] = Round(pbt.BestObjective, 4),
            ["random_best_objective_equal_steps"] = Round(equal.BestObjective, 4),
            ["pbt_total_steps"] = pbt.TotalSteps,
            ["random_total_steps_equal_steps"] = equal.TotalSteps,
            ["pbt_exploits"] = pbt.Exploits,
            ["pbt_sweep_seconds"] = Math.Round(pbt.Seconds, 1),
            ["random_equal_steps_sweep_seconds"] = Math.Round(equal.Seconds, 1),
            ["tpe_suggest_ms_at_1000"] = Math.Round(tpe.MedianMs, 3),
            ["tpe_suggest_p95_ms_at_1000"] = Math.Round(tpe.P95Ms, 3),
            ["tpe_finished_trials"] = tpe.Searcher.CompletedCount,
            ["quick"] = s.Quick,
            ["max_trials"] = s.MaxTrials,
            ["steps"] = s.Steps,
            ["eval_every"] = s.EvalEvery,
            ["asha_min_resource"] = s.MinResource,
            ["asha_reduction_factor"] = s.ReductionFactor,
            ["asha_metric"] = s.AshaMetric,
            ["slots_per_search"] = 1,
            ["threads_per_trial"] = 1,
            ["searcher_seed"] = s.Seed,
            ["target_modes"] = TargetModes,
            ["target_high_quality_fraction"] = TargetHighQuality,
            ["pbt_population"] = s.Population,
            ["pbt_steps"] = s.PbtSteps,
            ["pbt_ready_interval"] = s.ReadyInterval,
        };
        Console.WriteLine(JsonSerializer.Serialize(figures));
        return part1.Concat(part2).All(r => r.State == "completed") ? 0 : 1;
    }

    /// <summary>
    /// The grid25 sweep, `{name}` and `{early_stopping}` left to fill. The template is examples/grid25-wgan-gp.yaml
    /// (25/25 modes, 86.5% high quality after 3,000 steps). The space holds good and bad configurations for early
    /// stopping to tell apart: learning rates over 1.5 decades around the example's 1e-4 (too low barely moves in
    /// 3,000 decaying steps, too high oscillates), n_critic 2 to 5 and three gradient-penalty weights. A first
    /// version over 1e-5..3e-3 and n_critic 1..5 drew only hopeless configurations in its first trials: with the
    /// eight trials this machine affords, neither search would reach the target and nothing would be compared. The prior stays the tight mixture:
    /// with a normal prior samples fall between the modes and no trial could meet the 80% target, which would
    /// halve the chance of any of the few trials this machine affords reaching it.
    /// </summary>
    private static string Grid25Sweep(Settings s) => Inv($$"""
        sweep:
          name: {name}
          trial:
            kind: gan
            seed: 1
            device: cpu
            data: { dataset: grid25, batch_size: 256 }
            model: { architecture: mlp, hidden: 256, layers: 3 }
            latent: { dim: 16, prior: mixture, mixture_components: 100, mixture_std: 0.01 }
            loss: { type: wgan_gp, gp_lambda: 1 }
            optimizer:
              generator: { type: adam, lr: 1.0e-4, beta1: 0.5, beta2: 0.9 }
              discriminator: { type: adam, lr: 1.0e-4, beta1: 0.5, beta2: 0.9 }
            training: { steps: {{s.Steps}}, n_critic: 5, lr_schedule: linear, log_every: 100, eval_every: {{s.EvalEvery}}, checkpoint_every: {{s.Steps}}, threads: 1 }
            evaluation: { samples: 2500 }
          parameters:
            - { name: optimizer.generator.lr, type: log_uniform, min: 3.0e-5, max: 1.0e-3 }
            - { name: optimizer.discriminator.lr, type: log_uniform, min: 3.0e-5, max: 1.0e-3 }
            - { name: training.n_critic, type: int, min: 2, max: 5 }
            - { name: loss.gp_lambda, type: categorical, values: ["0.3", "1", "3"] }
          objective: { metric: {{HighQualityMetric}}, goal: maximize }
          search: { algorithm: random, seed: {{s.Seed}} }
          early_stopping: { algorithm: {early_stopping} }
          budget: { max_trials: {{s.MaxTrials}}, parallel_trials: 1 }
        """);

    /// <summary>
    /// The ring8 sweep for PBT against random, `{name}` and `{search}` left to fill: a smaller model than the
    /// ring8 example so that 2 x population members fit this machine side by side. PBT needs a checkpoint at
    /// every step it judges, so evaluations and checkpoints both come every ready_interval steps.
    /// </summary>
    private static string Ring8Sweep(Settings s) => Inv($$"""
        sweep:
          name: {name}
          trial:
            kind: gan
            seed: 1
            device: cpu
            data: { dataset: ring8, batch_size: 128 }
            model: { architecture: mlp, hidden: 128, layers: 3 }
            latent: { dim: 16, prior: mixture, mixture_components: 50, mixture_std: 0.01 }
            loss: { type: wgan_gp, gp_lambda: 1 }
            optimizer:
              generator: { type: adam, lr: 1.0e-4, beta1: 0.5, beta2: 0.9 }
              discriminator: { type: adam, lr: 1.0e-4, beta1: 0.5, beta2: 0.9 }
            training: { steps: {{s.PbtSteps}}, n_critic: 2, lr_schedule: linear, log_every: 100, eval_every: {{s.ReadyInterval}}, checkpoint_every: {{s.ReadyInterval}}, threads: 1 }
            evaluation: { samples: 2500 }
          parameters:
            - { name: optimizer.generator.lr, type: log_uniform, min: 1.0e-5, max: 3.0e-3 }
            - { name: optimizer.discriminator.lr, type: log_uniform, min: 1.0e-5, max: 3.0e-3 }
          objective: { metric: {{HighQualityMetric}}, goal: maximize }
          search: { algorithm: {search} }
          budget: { max_trials: {{s.Population}}, parallel_trials: {{s.Population}} }
        """);

    private sealed record SweepResult(
        string Label, string State, double Seconds, double? SecondsToTarget, int? TargetTrial, long? TargetStep,
        double? BestObjective, int? BestModes, long TotalSteps, int StoppedEarly, int Exploits);

    /// <summary>
    /// Submits a sweep and follows its events until it ends. The clock starts just before the submission; the
    /// target is timed when its evaluation's progress event reaches this client.
    /// </summary>
    private static async Task<SweepResult> RunSweepAsync(Jobs.JobsClient jobs, string label, Shared.Sweeps.SweepSpec spec)
    {
        var clock = Stopwatch.StartNew();
        var submitted = await jobs.SubmitSweepAsync(new SubmitSweepRequest { RequestId = $"search-quality-{label}", Spec = spec.ToProto() });
        string id = submitted.SweepId;
        double? toTarget = null;
        int? targetTrial = null;
        long? targetStep = null;
        var ended = new HashSet<int>();

        // A watch can break (a restarted grain, a dropped stream): the sweep's state decides whether to watch again.
        while (true)
        {
            using var done = new CancellationTokenSource();
            var poll = PollUntilEndedAsync(jobs, id, done);
            try
            {
                using var call = jobs.WatchSweep(new WatchSweepRequest { SweepId = id }, cancellationToken: done.Token);
                while (await call.ResponseStream.MoveNext(done.Token))
                {
                    var e = call.ResponseStream.Current;
                    if (e.EventCase == SweepEvent.EventOneofCase.Progress && toTarget is null && MeetsTarget(e.Progress.Metrics))
                    {
                        toTarget = clock.Elapsed.TotalSeconds;
                        (targetTrial, targetStep) = (e.Progress.TrialNumber, e.Progress.Step);
                        Console.WriteLine(Inv($"  [{label}] {toTarget,7:F1} s: TARGET reached by trial {targetTrial} at step {targetStep}: ") +
                            Inv($"{e.Progress.Metrics[ModesMetric]} modes, {e.Progress.Metrics[HighQualityMetric] * 100:F1}% high quality"));
                    }
                    else if (e.EventCase == SweepEvent.EventOneofCase.TrialChanged && IsFinal(e.TrialChanged.Trial.State)
                        && ended.Add(e.TrialChanged.Trial.TrialNumber))
                    {
                        Console.WriteLine(Inv($"  [{label}] {clock.Elapsed.TotalSeconds,7:F1} s: {Describe(e.TrialChanged.Trial)}"));
                    }
                    else if (e.EventCase == SweepEvent.EventOneofCase.Finished)
                    {
                        break;
                    }
                }
            }
            catch (RpcException)
            {
                // Ours when the poll ended the watch; otherwise the sweep's state below decides.
            }
            catch (OperationCanceledException)
            {
            }
            await done.CancelAsync();
            await poll;
            var state = (await jobs.GetSweepAsync(new GetSweepRequest { SweepId = id })).Summary.State;
            if (state != SweepState.Running) break;
            Console.WriteLine($"  [{label}] the watch broke while the sweep runs; watching again (progress in between is not timed)");
        }
        double seconds = clock.Elapsed.TotalSeconds;

        var sweep = await jobs.GetSweepAsync(new GetSweepRequest { SweepId = id });
        long totalSteps = 0;
        int exploits = 0;
        foreach (var summary in sweep.Trials)
        {
            // Trials whose end the watch missed are still reported, once.
            if (IsFinal(summary.State) && ended.Add(summary.TrialNumber))
                Console.WriteLine(Inv($"  [{label}] {seconds,7:F1} s: {Describe(summary)}"));
            var trial = await jobs.GetTrialAsync(new GetTrialRequest { SweepId = id, TrialNumber = summary.TrialNumber });
            // Steps actually trained: the last step reached, plus what each PBT exploit repeated (or minus what it
            // skipped) by continuing from another member's checkpoint taken at a different step.
            totalSteps += summary.Step + trial.Lineage.Sum(l => l.Step - l.SourceCheckpointStep);
            exploits += trial.Lineage.Count;
        }
        int? bestModes = sweep.Summary.HasBestTrial
            && sweep.Trials.FirstOrDefault(t => t.TrialNumber == sweep.Summary.BestTrial) is { } best
            && best.LastMetrics.TryGetValue(ModesMetric, out var modes) ? (int)modes : null;
        return new SweepResult(
            label, Snake(sweep.Summary.State.ToString()), seconds, toTarget, targetTrial, targetStep,
            sweep.Summary.HasBestObjective ? sweep.Summary.BestObjective : null, bestModes, totalSteps,
            sweep.Trials.Count(t => t.State == TrialState.StoppedEarly), exploits);
    }

    /// <summary>Cancels <paramref name="done"/> once the sweep has ended (a second later, for its last events to arrive).</summary>
    private static async Task PollUntilEndedAsync(Jobs.JobsClient jobs, string id, CancellationTokenSource done)
    {
        try
        {
            while (!done.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), done.Token);
                var sweep = await jobs.GetSweepAsync(new GetSweepRequest { SweepId = id }, cancellationToken: done.Token);
                if (sweep.Summary.State == SweepState.Running) continue;
                await Task.Delay(TimeSpan.FromSeconds(1), done.Token);
                await done.CancelAsync();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
        }
    }

    private static bool MeetsTarget(IDictionary<string, double> metrics) =>
        metrics.TryGetValue(ModesMetric, out var modes) && modes >= TargetModes
        && metrics.TryGetValue(HighQualityMetric, out var quality) && quality >= TargetHighQuality;

    private static bool IsFinal(TrialState state) => state is TrialState.Completed or TrialState.StoppedEarly
        or TrialState.Failed or TrialState.Diverged or TrialState.Canceled;

    private static string Describe(TrialSummary t)
    {
        string metrics = t.LastMetrics.TryGetValue(HighQualityMetric, out var quality)
            ? Inv($"{quality * 100:F1}% high quality, {(t.LastMetrics.TryGetValue(ModesMetric, out var m) ? m : double.NaN)} modes")
            : "no evaluation";
        string parameters = string.Join(", ", t.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        string reason = t.Reason.Length > 0 && t.State != TrialState.Completed ? $" [{t.Reason}]" : "";
        return Inv($"trial {t.TrialNumber} {Snake(t.State.ToString())} at step {t.Step}/{t.TotalSteps}: {metrics} ({parameters}){reason}");
    }

    /// <summary>An enum name as the API's JSON spells it: StoppedEarly → stopped_early.</summary>
    private static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private static double? Round(double? value, int digits) => value is { } v ? Math.Round(v, digits) : null;

    private static string Format(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "none";


    /// <summary>An in-process coordinator and worker agents whose trials are `orchestrator train` processes.</summary>
    private sealed class Cluster : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly List<WorkerAgent> _agents;
        private readonly List<Task> _running;
        private readonly CancellationTokenSource _stop;
        private readonly GrpcChannel _channel;
        private bool _disposed;

        private Cluster(WebApplication app, List<WorkerAgent> agents, List<Task> running, CancellationTokenSource stop, GrpcChannel channel)
        {
            (_app, _agents, _running, _stop, _channel) = (app, agents, running, stop, channel);
            Jobs = new Jobs.JobsClient(channel);
        }

        public Jobs.JobsClient Jobs { get; }

        public static async Task<Cluster> StartAsync(string data, int workers, int slotsPerWorker)
        {
            var (app, coordinator) = await BenchCoordinator.StartAsync(data);

            // The project reference copies the CLI next to this benchmark: trials run as `dotnet orchestrator.dll train`.
            string cli = Path.Combine(AppContext.BaseDirectory, "orchestrator.dll");
            if (!File.Exists(cli)) throw new FileNotFoundException($"the orchestrator CLI is not next to the benchmark: {cli}");
            var stop = new CancellationTokenSource();
            var agents = Enumerable.Range(0, workers).Select(i => new WorkerAgent(new WorkerAgentOptions
            {
                Coordinator = coordinator,
                Slots = slotsPerWorker,
                WorkerId = $"search-quality-{i}",
                CollectivePort = LoopbackPorts.FreeRange(slotsPerWorker),
                WorkDirectory = Path.Combine(data, $"worker-{i}"),
                TrainCommand = ["dotnet", cli],
            }, NullLogger.Instance)).ToList();
            var running = agents.Select(a => a.RunAsync(stop.Token)).ToList();
            // Workers must have joined before any clock starts: their start-up is no search's time.
            await Task.WhenAll(agents.Select(a => a.Welcomed)).WaitAsync(TimeSpan.FromMinutes(1));
            await Task.Delay(TimeSpan.FromSeconds(1));
            return new Cluster(app, agents, running, stop, GrpcChannel.ForAddress(coordinator));
        }

        public async ValueTask DisposeAsync()
        {
            if (_disposed) return;
            _disposed = true;
            await _stop.CancelAsync();
            await Task.WhenAll(_running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            foreach (var agent in _agents) await agent.DisposeAsync();
            _channel.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
            _stop.Dispose();
        }
    }
}
