using Orchestrator.Shared.Net;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime;
using System.Text.Json;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Training;
using TorchSharp;
using static Orchestrator.Benchmarks.Figures;

namespace Orchestrator.Benchmarks;

/// <summary>
/// dp_scaling: DCGAN 28x28 on the bundled MNIST subset, the same per-replica batch, trained by one process with one
/// intra-op thread and by two such processes in a data-parallel group over loopback (weak scaling: the global batch
/// doubles, as with DDP). Three more configurations run beside them: the same group with <c>batch_split: by_speed</c>
/// (each global batch split between the ranks by their measured speed), the same group without its overlaps (D's
/// all-reduce with G's forward pass, G's all-reduce with the real half of the next step's first D update), and two single
/// processes side by side that never communicate (what the machine itself allows two trainers), and the group with
/// each rank's training thread pinned to its own core (`orchestrator train --cores r`), and the group all-reducing around
/// the TCP ring on loopback instead of through shared memory (what a group on one host does by default). Every configuration's processes start once and warm up to their steady state (see
/// <see cref="WarmUp"/>), then wait; each round asks every configuration in turn, in an order that rotates, for
/// a block of timed steps, so the noise of a shared machine falls on all of them alike and many short rounds cost
/// one warm-up each. A group's time is its slowest rank's. The speedup is the group's samples/s over the single
/// process's, per round; the all-reduce share is the fraction of a rank's step time spent waiting for gradient
/// all-reduces.
/// </summary>
public static class DpScaling
{
    public static int Run(string[] args)
    {
        int rank = Options.Int(args, "--rank", -1);
        return rank >= 0 ? RunChildAsync(args, rank).GetAwaiter().GetResult() : RunParentAsync(args).GetAwaiter().GetResult();
    }

    private sealed record ChildResult(double Seconds, double AllReduceSeconds, long AllReduceBytes, int Steps, long SamplesPerStep,
        int WarmupSteps, long JitMethodsTimed, double JitSecondsTimed, double CpuSeconds, double KernelSeconds, long MinorFaults,
        double GcPauseSeconds, double AllReduceAloneSeconds, long Samples, double[] StepBusyMs, long Migrations, double RunQueueWaitSeconds);

    /// <summary>
    /// The configurations; the last two (one process and the group with glibc's malloc defaults, without
    /// <see cref="NativeHeap"/>'s thresholds) run only with --untuned-heap, to measure what the tuning is worth.
    /// IndependentSynced (only with --sync-probe): two processes that train alone but meet at a 4-byte all-reduce
    /// after every step, what synchronising costs without any gradient traffic.
    /// </summary>
    private enum Mode { Single, Group, GroupBalanced, GroupSerial, Independent, GroupPinned, GroupRing, IndependentSynced, SingleUntunedHeap, GroupUntunedHeap }

    private static async Task<int> RunParentAsync(string[] args)
    {
        int rounds = Options.Int(args, "--rounds", 20);
        int steps = Options.Int(args, "--steps", 30);
        int batch = Options.Int(args, "--batch", 64);
        bool untuned = args.Contains("--untuned-heap");
        bool syncProbe = args.Contains("--sync-probe");
        var modes = Enum.GetValues<Mode>()
            .Where(m => untuned || m is not (Mode.SingleUntunedHeap or Mode.GroupUntunedHeap))
            .Where(m => syncProbe || m != Mode.IndependentSynced)
            .Where(m => Options.String(args, "--modes", "") is var only && (only.Length == 0 || m == Mode.Single || only.Split(',').Contains(m.ToString()))).ToArray();
        Console.WriteLine($"dp_scaling: DCGAN 28x28, MNIST subset, batch {batch} per replica; 1 process x 1 thread against 2 processes x 1 thread " +
            $"all-reducing through shared memory (a group's default on one host; GroupRing: around the TCP ring on loopback); every configuration warmed up to its steady state once, then {rounds} rounds of {steps} timed steps each, in rotating order" +
            (untuned ? "; with glibc's malloc defaults side by side" : ""));

        var configurations = new Dictionary<Mode, Configuration>();
        try
        {
            foreach (var mode in modes)
            {
                // One configuration at a time: a warm-up is not timed, but it should not slow another's either.
                configurations[mode] = await Configuration.StartAsync(mode, batch, args);
                Console.WriteLine($"  {mode}: warmed up in {configurations[mode].WarmupSteps} steps");
            }

            var speedups = new List<double>();
            var balancedSpeedups = new List<double>();
            var serialSpeedups = new List<double>();
            var serialShares = new List<double>();
            var ceilings = new List<double>();
            var shares = new List<double>();
            var singleRates = new List<double>();
            var groupRates = new List<double>();
            var independentRates = new List<double>();
            var blocks = new List<ChildResult>();
            var blocksByMode = modes.ToDictionary(m => m, _ => new List<ChildResult>());
            var untunedSpeedups = new List<double>();
            var syncedSpeedups = new List<double>();
            var heapGainsSingle = new List<double>();
            var heapGainsGroup = new List<double>();
            var ratesByMode = modes.ToDictionary(m => m, _ => new List<double>());
            double bytesPerStep = 0;
            for (int round = 0; round < rounds; round++)
            {
                double synced = 0, single = 0, group = 0, balanced = 0, serial = 0, independent = 0, share = 0, serialShare = 0, singleUntuned = 0, groupUntuned = 0;
                for (int slot = 0; slot < modes.Length; slot++)
                {
                    var mode = modes[(slot + round) % modes.Length];
                    var results = await configurations[mode].RunAsync(steps);
                    blocks.AddRange(results);
                    blocksByMode[mode].AddRange(results);
                    double slowest = results.Max(r => r.Seconds);
                    double rate = results.Sum(r => (double)r.Samples) / slowest;
                    ratesByMode[mode].Add(rate);
                    switch (mode)
                    {
                        case Mode.Group:
                            group = rate;
                            share = results.Average(r => r.AllReduceSeconds / r.Seconds);
                            bytesPerStep = results[0].AllReduceBytes / (double)results[0].Steps;
                            break;
                        case Mode.GroupBalanced:
                            balanced = rate;
                            break;
                        case Mode.IndependentSynced:
                            synced = rate;
                            break;
                        case Mode.GroupSerial:
                            serial = rate;
                            serialShare = results.Average(r => r.AllReduceSeconds / r.Seconds);
                            break;
                        case Mode.Single:
                            single = rate;
                            break;
                        case Mode.Independent:
                            independent = rate;
                            break;
                        case Mode.SingleUntunedHeap:
                            singleUntuned = rate;
                            break;
                        case Mode.GroupUntunedHeap:
                            groupUntuned = rate;
                            break;
                    }
                }
                if (untuned)
                {
                    untunedSpeedups.Add(groupUntuned / singleUntuned);
                    heapGainsSingle.Add(single / singleUntuned);
                    heapGainsGroup.Add(group / groupUntuned);
                    Console.WriteLine(Inv($"    glibc defaults: 1 process {singleUntuned:F0} samples/s, 2 processes {groupUntuned:F0} samples/s, speedup {groupUntuned / singleUntuned:F2}"));
                }
                speedups.Add(group / single);
                if (syncProbe) syncedSpeedups.Add(synced / single);
                balancedSpeedups.Add(balanced / single);
                serialSpeedups.Add(serial / single);
                serialShares.Add(serialShare);
                ceilings.Add(independent / single);
                shares.Add(share);
                singleRates.Add(single);
                groupRates.Add(group);
                independentRates.Add(independent);
                Console.WriteLine(Inv($"  round {round + 1}: 1 process {single:F0} samples/s, 2 processes {group:F0} samples/s, speedup {group / single:F2}, all-reduce wait {share:P1} of step time; split by speed {balanced / single:F2}; without the overlap {serial / single:F2} ({serialShare:P1}); 2 independent processes {independent:F0} samples/s ({independent / single:F2}x, the machine's ceiling){(ratesByMode.ContainsKey(Mode.GroupPinned) ? Inv($"; pinned to cores: {ratesByMode[Mode.GroupPinned][^1] / single:F2}") : "")}{(ratesByMode.ContainsKey(Mode.GroupRing) ? Inv($"; TCP ring instead of shared memory: {ratesByMode[Mode.GroupRing][^1] / single:F2}") : "")}"));
            }

            if (modes.Length < Enum.GetValues<Mode>().Length && Options.String(args, "--modes", "").Length > 0)
            {
                // A chosen subset of configurations: the figures per configuration only.
                var chosen = new Dictionary<string, object>
                {
                    ["speedup_by_mode"] = SpeedupByMode(ratesByMode),
                    ["step_cv"] = StepCv(blocksByMode),
                    ["compute_ms_per_step_median"] = blocksByMode.ToDictionary(m => m.Key.ToString(), m => Math.Round(Median(m.Value.SelectMany(b => b.StepBusyMs).ToList()), 1)),
                    ["allreduce_wait_ms_per_step"] = blocksByMode.ToDictionary(m => m.Key.ToString(), m => Math.Round(Median(m.Value.Select(b => b.AllReduceSeconds * 1000 / b.Steps).ToList()), 2)),
                    ["cpu_cores_per_process"] = blocksByMode.ToDictionary(m => m.Key.ToString(), m => Math.Round(m.Value.Sum(b => b.CpuSeconds) / m.Value.Sum(b => b.Seconds), 3)),
                    ["rates"] = ratesByMode.ToDictionary(m => m.Key.ToString(), m => m.Value.Select(r => Math.Round(r)).ToArray()),
                };
                Console.WriteLine(JsonSerializer.Serialize(chosen));
                return 0;
            }
            var figures = new Dictionary<string, object>
            {
                ["speedup"] = Math.Round(Median(speedups), 3),
                ["speedup_min"] = Math.Round(speedups.Min(), 3),
                ["speedup_max"] = Math.Round(speedups.Max(), 3),
                // The middle half of the rounds: how much the shared machine moved the figure.
                ["speedup_p25"] = Math.Round(Quantile(speedups, 0.25), 3),
                ["speedup_p75"] = Math.Round(Quantile(speedups, 0.75), 3),
                // How well this run pins the median down: a 95% bootstrap interval over the rounds. Runs on this shared
                // machine differ by about its width, so a figure near a target says little without it.
                ["speedup_ci95"] = MedianInterval(speedups, 0.95).Select(v => Math.Round(v, 3)).ToArray(),
                // The step time spent waiting for gradient all-reduces (what the overlap did not hide).
                ["allreduce_share"] = Math.Round(Median(shares), 4),
                ["allreduce_bytes_per_step"] = Math.Round(bytesPerStep),
                // Per step and rank: the time waited for the step's gradient all-reduces, against what those all-reduces
                // take when both ranks are ready (measured after each block). The difference is one rank waiting for
                // the other to finish computing: on this shared VM the two cores' speeds drift apart for seconds at a
                // time, which no overlap hides.
                ["allreduce_wait_ms_per_step"] = Math.Round(Median(blocksByMode[Mode.Group].Select(b => b.AllReduceSeconds * 1000 / b.Steps).ToList()), 2),
                ["allreduce_alone_ms_per_step"] = Math.Round(Median(blocksByMode[Mode.Group].Select(b => b.AllReduceAloneSeconds * 1000).ToList()), 2),
                // The same group with batch_split: by_speed: each global batch split between the ranks by their
                // measured speed, so the faster rank is not left waiting (gradients weighted by share).
                ["speedup_balanced"] = Math.Round(Median(balancedSpeedups), 3),
                ["speedup_balanced_p25"] = Math.Round(Quantile(balancedSpeedups, 0.25), 3),
                ["speedup_balanced_p75"] = Math.Round(Quantile(balancedSpeedups, 0.75), 3),
                ["balanced_gain"] = Math.Round(Median(balancedSpeedups.Zip(speedups, (b, g) => b / g).ToList()), 3),
                ["scaling_efficiency_balanced_vs_independent"] = Math.Round(Median(balancedSpeedups.Zip(ceilings, (g, c) => g / c).ToList()), 3),
                ["allreduce_wait_ms_per_step_balanced"] = Math.Round(Median(blocksByMode[Mode.GroupBalanced].Select(b => b.AllReduceSeconds * 1000 / b.Steps).ToList()), 2),
                // Rank 0's mean share of the 2 x batch samples per block, lowest and highest block.
                ["balanced_rank0_batch_min"] = Math.Round(BalancedRank0Batches(blocksByMode[Mode.GroupBalanced]).Min(), 1),
                ["balanced_rank0_batch_max"] = Math.Round(BalancedRank0Batches(blocksByMode[Mode.GroupBalanced]).Max(), 1),
                // Why a split by speed can (or cannot) help: per step, rank 0's compute less rank 1's in the group, its
                // spread, and how much of it carries over to the steps after (the split follows with a lag of two
                // steps, so only a difference that persists can be balanced away).
                ["rank_compute_diff_ms_sd"] = Math.Round(StepDiffs(blocksByMode[Mode.Group]).Select(d => d.Sd).Average(), 2),
                ["rank_compute_diff_autocorr_lag1"] = Math.Round(Autocorrelation(blocksByMode[Mode.Group], 1), 3),
                ["rank_compute_diff_autocorr_lag2"] = Math.Round(Autocorrelation(blocksByMode[Mode.Group], 2), 3),
                ["rank_compute_diff_autocorr_lag5"] = Math.Round(Autocorrelation(blocksByMode[Mode.Group], 5), 3),
                ["compute_ms_per_step_median"] = blocksByMode.Where(m => m.Key is not (Mode.SingleUntunedHeap or Mode.GroupUntunedHeap)).ToDictionary(
                    m => m.Key.ToString(), m => Math.Round(Median(m.Value.SelectMany(b => b.StepBusyMs).ToList()), 1)),
                // The same group without overlapping its all-reduces with compute, side by side.
                ["speedup_no_overlap"] = Math.Round(Median(serialSpeedups), 3),
                ["allreduce_share_no_overlap"] = Math.Round(Median(serialShares), 4),
                ["overlap_gain"] = Math.Round(Median(speedups.Zip(serialSpeedups, (o, n) => o / n).ToList()), 3),
                // Two processes that never talk, side by side: what this machine's two cores give two trainers at all
                // (shared caches, memory bandwidth, the rest of the system). The group cannot beat it.
                ["independent_speedup"] = Math.Round(Median(ceilings), 3),
                ["scaling_efficiency_vs_independent"] = Math.Round(Median(speedups.Zip(ceilings, (g, c) => g / c).ToList()), 3),
                ["independent_samples_per_sec"] = Math.Round(Median(independentRates), 1),
                ["single_samples_per_sec"] = Math.Round(Median(singleRates), 1),
                ["two_process_samples_per_sec"] = Math.Round(Median(groupRates), 1),
                // Steady state: the warm-up each configuration took, and what the JIT still compiled while timing.
                ["warmup_steps"] = configurations.ToDictionary(c => c.Key.ToString(), c => c.Value.WarmupSteps),
                ["jit_methods_timed_max"] = blocks.Max(b => b.JitMethodsTimed),
                ["jit_ms_timed_max"] = Math.Round(blocks.Max(b => b.JitSecondsTimed) * 1000, 1),
                ["gc_pause_ms_timed_max"] = Math.Round(blocks.Max(b => b.GcPauseSeconds) * 1000, 1),
                // Where each configuration's CPU went: the kernel's share (page faults, sockets) and faults per step.
                ["kernel_cpu_share"] = blocksByMode.ToDictionary(m => m.Key.ToString(),
                    m => Math.Round(m.Value.Sum(b => b.KernelSeconds) / m.Value.Sum(b => b.CpuSeconds), 4)),
                // CPU time over wall time per process: more than 1 is work a single process gets done on the idle second
                // core (GC, finalizers, the runtime's and libtorch's own threads) that two processes pay out of compute.
                ["cpu_cores_per_process"] = blocksByMode.ToDictionary(m => m.Key.ToString(),
                    m => Math.Round(m.Value.Sum(b => b.CpuSeconds) / m.Value.Sum(b => b.Seconds), 3)),
                ["minor_faults_per_step"] = blocksByMode.ToDictionary(m => m.Key.ToString(),
                    m => Math.Round(m.Value.Sum(b => (double)b.MinorFaults) / m.Value.Sum(b => b.Steps), 1)),
                ["batch_per_replica"] = batch,
                ["steps"] = steps,
                ["rounds"] = rounds,
            };
            // The same group with each rank's training thread pinned to its own core (`train --cores r`), side by side.
            double Paired(Mode a, Mode b) => Math.Round(Median(ratesByMode[a].Zip(ratesByMode[b], (x, y) => x / y).ToList()), 3);
            figures["speedup_pinned"] = Paired(Mode.GroupPinned, Mode.Single);
            // The same group with its all-reduces around the TCP ring instead of through shared memory, side by side.
            figures["speedup_ring"] = Paired(Mode.GroupRing, Mode.Single);
            figures["shared_memory_gain"] = Paired(Mode.Group, Mode.GroupRing);
            figures["scaling_efficiency_ring_vs_independent"] = Paired(Mode.GroupRing, Mode.Independent);
            figures["allreduce_wait_ms_per_step_ring"] = Math.Round(Median(blocksByMode[Mode.GroupRing].Select(b => b.AllReduceSeconds * 1000 / b.Steps).ToList()), 2);
            figures["allreduce_alone_ms_per_step_ring"] = Math.Round(Median(blocksByMode[Mode.GroupRing].Select(b => b.AllReduceAloneSeconds * 1000).ToList()), 2);
            figures["pinning_gain"] = Paired(Mode.GroupPinned, Mode.Group);
            figures["scaling_efficiency_pinned_vs_independent"] = Paired(Mode.GroupPinned, Mode.Independent);
            figures["allreduce_wait_ms_per_step_pinned"] = Math.Round(Median(blocksByMode[Mode.GroupPinned].Select(b => b.AllReduceSeconds * 1000 / b.Steps).ToList()), 2);
            // Per step of a training thread: moves to another core, and ms spent ready to run while another thread
            // held its core.
            figures["training_thread_migrations_per_step"] = blocksByMode.ToDictionary(m => m.Key.ToString(),
                m => Math.Round(m.Value.Sum(b => (double)b.Migrations) / m.Value.Sum(b => b.Steps), 2));
            figures["training_thread_runqueue_ms_per_step"] = blocksByMode.ToDictionary(m => m.Key.ToString(),
                m => Math.Round(m.Value.Sum(b => b.RunQueueWaitSeconds) * 1000 / m.Value.Sum(b => b.Steps), 2));
            figures["speedup_by_mode"] = SpeedupByMode(ratesByMode);
            figures["step_cv"] = StepCv(blocksByMode);
            if (syncProbe)
            {
                figures["speedup_independent_synced"] = Math.Round(Median(syncedSpeedups), 3);
                figures["sync_wait_ms_per_step"] = Math.Round(Median(blocksByMode[Mode.IndependentSynced].Select(b => b.AllReduceSeconds * 1000 / b.Steps).ToList()), 2);
            }
            if (untuned)
            {
                figures["speedup_untuned_heap"] = Math.Round(Median(untunedSpeedups), 3);
                // Paired per round: the tuned configuration's samples/s over the untuned one's.
                figures["heap_gain_single"] = Math.Round(Median(heapGainsSingle), 3);
                figures["heap_gain_group"] = Math.Round(Median(heapGainsGroup), 3);
            }
            Console.WriteLine(JsonSerializer.Serialize(figures));
            return 0;
        }
        finally
        {
            foreach (var configuration in configurations.Values) await configuration.DisposeAsync();
        }
    }

    /// <summary>Per configuration: its samples/s over one process's, the median over the rounds.</summary>
    private static Dictionary<string, double> SpeedupByMode(Dictionary<Mode, List<double>> ratesByMode) =>
        ratesByMode.ToDictionary(m => m.Key.ToString(),
            m => Math.Round(Median(m.Value.Zip(ratesByMode[Mode.Single], (a, b) => a / b).ToList()), 3));

    /// <summary>Per configuration: the coefficient of variation of a step's compute within a block, averaged over blocks.</summary>
    private static Dictionary<string, double> StepCv(Dictionary<Mode, List<ChildResult>> blocksByMode) =>
        blocksByMode.ToDictionary(m => m.Key.ToString(), m => Math.Round(m.Value.Select(b =>
        {
            double mean = b.StepBusyMs.Average();
            return Math.Sqrt(b.StepBusyMs.Sum(x => (x - mean) * (x - mean)) / b.StepBusyMs.Length) / mean;
        }).Average(), 4));

    /// <summary>Per block of a two-rank configuration: rank 0's per-step compute less rank 1's, and its spread.</summary>
    private static IEnumerable<(double[] Diff, double Sd)> StepDiffs(List<ChildResult> blocks)
    {
        for (int i = 0; i + 1 < blocks.Count; i += 2)
        {
            var diff = blocks[i].StepBusyMs.Zip(blocks[i + 1].StepBusyMs, (a, b) => a - b).ToArray();
            double mean = diff.Average();
            yield return (diff, Math.Sqrt(diff.Sum(d => (d - mean) * (d - mean)) / diff.Length));
        }
    }

    /// <summary>Autocorrelation at <paramref name="lag"/> steps of the ranks' compute difference, pooled over blocks.</summary>
    private static double Autocorrelation(List<ChildResult> blocks, int lag)
    {
        double products = 0, squares = 0;
        foreach (var (diff, _) in StepDiffs(blocks))
        {
            double mean = diff.Average();
            for (int t = 0; t < diff.Length; t++)
            {
                squares += (diff[t] - mean) * (diff[t] - mean);
                if (t + lag < diff.Length) products += (diff[t] - mean) * (diff[t + lag] - mean);
            }
        }
        return squares == 0 ? 0 : products / squares;
    }

    /// <summary>Rank 0's mean local batch in each block (blocks come in rank order, two per round).</summary>
    private static IEnumerable<double> BalancedRank0Batches(List<ChildResult> blocks) =>
        blocks.Where((_, i) => i % 2 == 0).Select(b => (double)b.Samples / b.Steps);

    /// <summary>The processes of one configuration, warmed up and waiting for "run N" on their standard input.</summary>
    private sealed class Configuration : IAsyncDisposable
    {
        private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);
        private readonly Mode _mode;
        private readonly Process[] _children;

        private Configuration(Mode mode, Process[] children)
        {
            _mode = mode;
            _children = children;
        }

        public int WarmupSteps { get; private set; }

        public static async Task<Configuration> StartAsync(Mode mode, int batch, string[] args)
        {
            int processes = mode is Mode.Single or Mode.SingleUntunedHeap ? 1 : 2;
            int world = mode is Mode.Group or Mode.GroupBalanced or Mode.GroupSerial or Mode.GroupUntunedHeap or Mode.IndependentSynced or Mode.GroupPinned or Mode.GroupRing ? 2 : 1;
            bool pinned = mode == Mode.GroupPinned;
            bool untunedHeap = mode is Mode.SingleUntunedHeap or Mode.GroupUntunedHeap;
            var endpoints = LoopbackPorts.Endpoints(processes);
            var configuration = new Configuration(mode, Enumerable.Range(0, processes).Select(p => StartChild(
                ["dp_scaling", "--rank", $"{(world > 1 ? p : 0)}", "--world", $"{world}", "--batch", $"{batch}",
                 "--peers", world > 1 ? string.Join(',', endpoints) : endpoints[p], "--overlap", mode == Mode.GroupSerial ? "0" : "1", "--sync-only", mode == Mode.IndependentSynced ? "1" : "0",
                 "--split", mode == Mode.GroupBalanced ? BatchSplits.BySpeed : BatchSplits.Even, "--core", pinned ? $"{p}" : "-1",
                 "--shm", mode == Mode.GroupRing ? "0" : "1",
                 "--min-warmup", $"{Options.Int(args, "--min-warmup", 20)}", "--max-warmup", $"{Options.Int(args, "--max-warmup", 300)}",
                 .. args.Where(a => a is "--threads")],
                untunedHeap)).ToArray());
            try
            {
                foreach (var child in configuration._children)
                    configuration.WarmupSteps = Math.Max(configuration.WarmupSteps, int.Parse(await configuration.ReadAsync(child, "READY "), CultureInfo.InvariantCulture));
                return configuration;
            }
            catch
            {
                await configuration.DisposeAsync();
                throw;
            }
        }

        /// <summary>Every process times <paramref name="steps"/> steps (a group's ranks start together).</summary>
        public async Task<ChildResult[]> RunAsync(int steps)
        {
            foreach (var child in _children) await child.StandardInput.WriteLineAsync($"run {steps}");
            var results = new ChildResult[_children.Length];
            for (int r = 0; r < _children.Length; r++)
                results[r] = JsonSerializer.Deserialize<ChildResult>(await ReadAsync(_children[r], "RESULT "))!;
            return results;
        }

        private async Task<string> ReadAsync(Process child, string prefix)
        {
            using var timeout = new CancellationTokenSource(Patience);
            string? line;
            while ((line = await child.StandardOutput.ReadLineAsync(timeout.Token)) is not null && !line.StartsWith(prefix, StringComparison.Ordinal))
            {
            }
            if (line is null)
            {
                await child.WaitForExitAsync();
                throw new InvalidOperationException($"{_mode}: a process exited (code {child.ExitCode}) before its '{prefix.Trim()}' line");
            }
            return line[prefix.Length..];
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var child in _children)
            {
                try
                {
                    if (!child.HasExited) await child.StandardInput.WriteLineAsync("exit");
                }
                catch (IOException)
                {
                }
            }
            foreach (var child in _children)
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await child.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    child.Kill(entireProcessTree: true);
                }
                child.Dispose();
            }
        }
    }

    private static async Task<int> RunChildAsync(string[] args, int rank)
    {
        int world = Options.Int(args, "--world", 1);
        int batch = Options.Int(args, "--batch", 64);
        int peersAt = Array.IndexOf(args, "--peers");
        var peers = args[peersAt + 1].Split(',');
        torch.set_num_threads(1);

        var spec = new TrialSpec
        {
            Seed = 1,
            Data = new DataSpec { Dataset = Datasets.MnistSubset, BatchSize = batch },
            Model = new ModelSpec { Architecture = Architectures.Dcgan, Features = 32 },
            Latent = new LatentSpec { Dim = 64 },
            Loss = new LossSpec { Type = LossTypes.NonSaturating },
            // The benchmark measures the step; the periodic checksum (every 100 steps by default) is not in it.
            Training = new TrainingSpec { ChecksumEvery = 0, BatchSplit = Options.String(args, "--split", BatchSplits.Even) },
        };
        ICollectiveTransport? transport = null;
        ProcessGroup? group = null;
        if (world > 1)
        {
            int port = int.Parse(peers[rank].Split(':')[1], CultureInfo.InvariantCulture);
            transport = await CollectiveTransports.StartAsync("127.0.0.1", port);
            group = await ProcessGroup.CreateAsync(transport, new ProcessGroupOptions
            {
                // Between blocks a group waits for the parent's next command; heartbeats keep it alive meanwhile.
                GroupId = "dp-scaling", Rank = rank, WorldSize = world, Endpoints = peers, Timeout = TimeSpan.FromSeconds(60),
                // GroupRing: the same group with its all-reduces around the TCP ring instead of through shared memory.
                SharedMemory = Options.Int(args, "--shm", 1) != 0,
            });
            Console.Error.WriteLine($"rank {rank}: all-reduce path {group.AllReducePath}");
        }
        try
        {
            // The product trains a group's replica on one dedicated thread for the run's lifetime; so does this. (On
            // the thread pool, the loop would move between threads from block to block, and each move costs the new
            // thread's malloc arena a fresh set of pages: ~16,000 page faults at the start of a block.)
            Exception? failure = null;
            var training = new Thread(() =>
            {
                try
                {
                    // GroupPinned: rank p's training thread on core p, as `orchestrator train --cores p` pins it.
                    int core = Options.Int(args, "--core", -1);
                    if (core >= 0) CpuAffinity.Pin([core]);
                    Train(args, rank, batch, spec, group);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }) { Name = "training" };
            training.Start();
            training.Join();
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        finally
        {
            if (group is not null) await group.DisposeAsync();
            if (transport is not null) await transport.DisposeAsync();
        }
        return 0;
    }

    private static void Train(string[] args, int rank, int batch, TrialSpec spec, ProcessGroup? group)
    {
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        // --sync-only: the process trains alone and only meets the other at a 4-byte all-reduce after each step.
        bool syncOnly = Options.Int(args, "--sync-only", 0) != 0;
        var token = new float[1];
        using var trainer = new GanTrainer(spec, data, torch.CPU, syncOnly ? null : group, overlapGradients: Options.Int(args, "--overlap", 1) != 0);
        int warmup = WarmUp(trainer, group, Options.Int(args, "--min-warmup", 20), Options.Int(args, "--max-warmup", 300));
        Console.Error.WriteLine($"rank {rank}: native heap {NativeHeap.Outcome}");
        Console.WriteLine(Inv($"READY {warmup}"));
        string? command;
        while ((command = Console.ReadLine()) is not null && command.StartsWith("run ", StringComparison.Ordinal))
        {
            int steps = int.Parse(command["run ".Length..], CultureInfo.InvariantCulture);
            if (group is not null) group.BarrierAsync().GetAwaiter().GetResult();
            var allReduce = trainer.GradientAllReduceTime;
            var synced = TimeSpan.Zero;
            long bytes = trainer.GradientAllReduceBytes;
            long methods = JitInfo.GetCompiledMethodCount();
            var jitTime = JitInfo.GetCompilationTime();
            var gcPause = GC.GetTotalPauseDuration();
            var usage = ProcessUsage.Read();
            var threads = args.Contains("--threads") ? ThreadUsage.Read() : null;
            var scheduled = ThreadScheduling.Read();
            long samples = 0;
            // Each step's own compute: its time less what it waited for the group's all-reduces.
            var busy = new double[steps];
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                samples += (long)trainer.LocalBatchSize * spec.Training.NCritic;
                long started = Stopwatch.GetTimestamp();
                var waited = trainer.GradientAllReduceTime;
                trainer.TrainStep(nextStepFollows: true);
                var wait = trainer.GradientAllReduceTime - waited;
                if (syncOnly)
                {
                    long meeting = Stopwatch.GetTimestamp();
                    group!.AllReduce(token.AsMemory(), ReduceOp.Sum);
                    var met = Stopwatch.GetElapsedTime(meeting);
                    wait += met;
                    synced += met;
                }
                busy[i] = (Stopwatch.GetElapsedTime(started) - wait).TotalMilliseconds;
            }
            double seconds = clock.Elapsed.TotalSeconds;
            var rescheduled = ThreadScheduling.Read();
            var used = ProcessUsage.Read() - usage;
            if (threads is not null) ThreadUsage.Report(threads, ThreadUsage.Read(), seconds, rank);
            var gcPaused = GC.GetTotalPauseDuration() - gcPause;
            long bytesTimed = trainer.GradientAllReduceBytes - bytes;
            double alone = group is null ? 0 : AllReduceAloneSeconds(group, bytesTimed / steps);
            var result = new ChildResult(seconds, (trainer.GradientAllReduceTime - allReduce + synced).TotalSeconds,
                bytesTimed, steps, (long)batch * spec.Training.NCritic, warmup,
                JitInfo.GetCompiledMethodCount() - methods, (JitInfo.GetCompilationTime() - jitTime).TotalSeconds,
                used.UserSeconds + used.KernelSeconds, used.KernelSeconds, used.MinorFaults, gcPaused.TotalSeconds, alone, samples, busy,
                rescheduled.Migrations - scheduled.Migrations, rescheduled.RunQueueWaitSeconds - scheduled.RunQueueWaitSeconds);
            Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        }
    }

    /// <summary>
    /// A step's two gradient all-reduces (<paramref name="bytesPerStep"/> in all) again, outside the timed block, with
    /// both ranks ready: what the communication itself costs. The rest of the time a rank waited was the other rank
    /// still computing.
    /// </summary>
    private static double AllReduceAloneSeconds(ProcessGroup group, long bytesPerStep)
    {
        const int Repeats = 10;
        var half = new float[(int)(bytesPerStep / 8)];
        group.BarrierAsync().GetAwaiter().GetResult();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Repeats; i++)
        {
            group.AllReduce(half.AsMemory(), ReduceOp.Average);
            group.AllReduce(half.AsMemory(), ReduceOp.Average);
        }
        return clock.Elapsed.TotalSeconds / Repeats;
    }

    /// <summary>
    /// Trains until the process is in its steady state: .NET's tiered JIT recompiles a method once it has been called
    /// 30 times (twice with dynamic PGO), so code that runs once per step is still being recompiled on a background
    /// thread 30-100 steps in. Two trainers on two cores have no spare core for that thread, one trainer does, so
    /// timing too early charges the group for its start-up. Warms up in blocks of 10 steps until two blocks in a row
    /// compile fewer than 10 methods each on every rank (the recompiles come in waves: a quiet block can sit between
    /// two). A group agrees through an all-reduce, so all ranks take the same steps. Code that runs about once a
    /// second (the group's heartbeats) is recompiled 30-60 s in, so a small wave can still fall in the timed steps:
    /// the figures report what the JIT compiled while they were timed.
    /// </summary>
    private static int WarmUp(GanTrainer trainer, ProcessGroup? group, int minimum, int maximum)
    {
        const int Block = 10, Settled = 10;
        int steps = 0, quiet = 0;
        var busy = new float[1];
        while (true)
        {
            long methods = JitInfo.GetCompiledMethodCount();
            for (int i = 0; i < Block; i++) trainer.TrainStep(nextStepFollows: true);
            steps += Block;
            busy[0] = JitInfo.GetCompiledMethodCount() - methods >= Settled ? 1 : 0;
            group?.AllReduce(busy.AsMemory(), ReduceOp.Sum);
            quiet = busy[0] == 0 ? quiet + 1 : 0;
            if (steps >= maximum || (steps >= minimum && quiet >= 2)) return steps;
        }
    }

    private static Process StartChild(string[] args, bool untunedHeap = false)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (untunedHeap) start.Environment[NativeHeap.Switch] = "off";
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <summary>
    /// The calling (training) thread's scheduling from /proc/thread-self: how often the kernel moved it to another core,
    /// and how long it was ready to run but waited for a core (another thread had it).
    /// </summary>
    private readonly record struct ThreadScheduling(long Migrations, double RunQueueWaitSeconds)
    {
        public static ThreadScheduling Read()
        {
            long migrations = File.ReadLines("/proc/thread-self/sched")
                .Where(l => l.StartsWith("se.nr_migrations", StringComparison.Ordinal))
                .Select(l => long.Parse(l[(l.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture)).First();
            var schedstat = File.ReadAllText("/proc/thread-self/schedstat").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return new ThreadScheduling(migrations, long.Parse(schedstat[1], CultureInfo.InvariantCulture) / 1e9);
        }
    }

    /// <summary>CPU seconds per thread of this process (from /proc/self/task), for --threads: where the CPU went.</summary>
    private static class ThreadUsage
    {
        public static Dictionary<string, (string Name, double Seconds)> Read()
        {
            var threads = new Dictionary<string, (string, double)>();
            foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    string stat = File.ReadAllText(Path.Combine(task, "stat"));
                    int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
                    var fields = stat[(close + 2)..].Split(' ');
                    threads[Path.GetFileName(task)] = (stat[(open + 1)..close],
                        (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
                }
                catch (IOException)
                {
                }
            }
            return threads;
        }

        public static void Report(Dictionary<string, (string Name, double Seconds)> before, Dictionary<string, (string Name, double Seconds)> after,
            double wall, int rank)
        {
            var used = after.Select(t => (t.Key, t.Value.Name, Seconds: t.Value.Seconds - (before.TryGetValue(t.Key, out var b) ? b.Seconds : 0)))
                .Where(t => t.Seconds > 0).OrderByDescending(t => t.Seconds);
            Console.Error.WriteLine(Inv($"rank {rank} threads over {wall:F2} s: ") + string.Join(", ", used.Select(t => Inv($"{t.Name}#{t.Key} {t.Seconds:F2}"))));
        }
    }

    /// <summary>This process's CPU time (user and kernel) and minor page faults, from /proc/self/stat.</summary>
    private readonly record struct ProcessUsage(double UserSeconds, double KernelSeconds, long MinorFaults)
    {
        public static ProcessUsage Read()
        {
            string stat = File.ReadAllText("/proc/self/stat");
            // Fields after the command name in parentheses, which may itself hold spaces: 3 (state) is [0].
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            double tick = 1.0 / 100; // USER_HZ
            return new ProcessUsage(long.Parse(fields[11], CultureInfo.InvariantCulture) * tick,
                long.Parse(fields[12], CultureInfo.InvariantCulture) * tick, long.Parse(fields[7], CultureInfo.InvariantCulture));
        }

        public static ProcessUsage operator -(ProcessUsage a, ProcessUsage b) =>
            new(a.UserSeconds - b.UserSeconds, a.KernelSeconds - b.KernelSeconds, a.MinorFaults - b.MinorFaults);
    }
}
