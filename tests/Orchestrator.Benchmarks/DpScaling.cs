using Orchestrator.Shared.Net;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
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
/// intra-op thread and by two such processes in a data-parallel group over loopback. Rounds alternate which runs
/// first; each child warms up, then times a block of steps (a group's time is its slowest rank's). The speedup is
/// the group's samples/s over the single process's (weak scaling: the global batch doubles, as with DDP), and the
/// all-reduce share is the fraction of a rank's step time spent inside gradient all-reduces. A third configuration,
/// two single processes side by side that never communicate, measures what the machine itself allows.
/// </summary>
public static class DpScaling
{
    public static int Run(string[] args)
    {
        int rank = Options.Int(args, "--rank", -1);
        return rank >= 0 ? RunChildAsync(args, rank).GetAwaiter().GetResult() : RunParentAsync(args).GetAwaiter().GetResult();
    }

    private sealed record ChildResult(double Seconds, double AllReduceSeconds, long AllReduceBytes, int Steps, long SamplesPerStep);

    private static async Task<int> RunParentAsync(string[] args)
    {
        int rounds = Options.Int(args, "--rounds", 6);
        int steps = Options.Int(args, "--steps", 40);
        int batch = Options.Int(args, "--batch", 64);
        Console.WriteLine($"dp_scaling: DCGAN 28x28, MNIST subset, batch {batch} per replica, {steps} timed steps; " +
            $"1 process x 1 thread against 2 processes x 1 thread over the TCP ring on loopback; {rounds} alternating rounds");

        var speedups = new List<double>();
        var serialSpeedups = new List<double>();
        var serialShares = new List<double>();
        var ceilings = new List<double>();
        var shares = new List<double>();
        var singleRates = new List<double>();
        var groupRates = new List<double>();
        var independentRates = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            double single = 0, group = 0, serial = 0, independent = 0, share = 0, serialShare = 0;
            // Four configurations per round, in an order that rotates: the noise of a shared machine falls on each.
            for (int slot = 0; slot < 4; slot++)
            {
                var mode = (Mode)((slot + round) % 4);
                var results = await RunGroupAsync(mode, steps, batch);
                double slowest = results.Max(r => r.Seconds);
                double rate = results.Sum(r => (double)r.SamplesPerStep * r.Steps) / slowest;
                switch (mode)
                {
                    case Mode.Group:
                        group = rate;
                        share = results.Average(r => r.AllReduceSeconds / r.Seconds);
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
                }
            }
            speedups.Add(group / single);
            serialSpeedups.Add(serial / single);
            serialShares.Add(serialShare);
            ceilings.Add(independent / single);
            shares.Add(share);
            singleRates.Add(single);
            groupRates.Add(group);
            independentRates.Add(independent);
            Console.WriteLine(Inv($"  round {round + 1}: 1 process {single:F0} samples/s, 2 processes {group:F0} samples/s, speedup {group / single:F2}, all-reduce wait {share:P1} of step time; without the overlap {serial / single:F2} ({serialShare:P1}); 2 independent processes {independent:F0} samples/s ({independent / single:F2}x, the machine's ceiling)"));
        }

        var figures = new Dictionary<string, object>
        {
            ["speedup"] = Math.Round(Median(speedups), 3),
            ["speedup_min"] = Math.Round(speedups.Min(), 3),
            ["speedup_max"] = Math.Round(speedups.Max(), 3),
            // The step time spent waiting for gradient all-reduces (what the overlap did not hide).
            ["allreduce_share"] = Math.Round(Median(shares), 4),
            // The same group with D's all-reduce not overlapped with G's forward pass, side by side.
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
            ["batch_per_replica"] = batch,
            ["steps"] = steps,
            ["rounds"] = rounds,
        };
        Console.WriteLine(JsonSerializer.Serialize(figures));
        return 0;
    }

    private enum Mode { Single, Group, GroupSerial, Independent }

    private static async Task<ChildResult[]> RunGroupAsync(Mode mode, int steps, int batch)
    {
        int processes = mode == Mode.Single ? 1 : 2;
        int world = mode is Mode.Group or Mode.GroupSerial ? 2 : 1;
        var endpoints = LoopbackPorts.Endpoints(processes);
        var children = Enumerable.Range(0, processes).Select(p => StartChild(
            ["dp_scaling", "--rank", $"{(world > 1 ? p : 0)}", "--world", $"{world}", "--steps", $"{steps}", "--batch", $"{batch}",
             "--peers", world > 1 ? string.Join(',', endpoints) : endpoints[p], "--overlap", mode == Mode.GroupSerial ? "0" : "1"])).ToArray();
        try
        {
            var results = new ChildResult[processes];
            for (int r = 0; r < processes; r++)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
                string? line;
                while ((line = await children[r].StandardOutput.ReadLineAsync(timeout.Token)) is not null && !line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                }
                if (line is null) throw new InvalidOperationException($"rank {r} exited without a result (exit code {children[r].ExitCode})");
                results[r] = JsonSerializer.Deserialize<ChildResult>(line["RESULT ".Length..])!;
            }
            foreach (var child in children) await child.WaitForExitAsync();
            return results;
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited) child.Kill(entireProcessTree: true);
                child.Dispose();
            }
        }
    }

    private static async Task<int> RunChildAsync(string[] args, int rank)
    {
        int world = Options.Int(args, "--world", 1);
        int steps = Options.Int(args, "--steps", 40);
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
            Training = new TrainingSpec { ChecksumEvery = 0 },
        };
        ICollectiveTransport? transport = null;
        ProcessGroup? group = null;
        if (world > 1)
        {
            int port = int.Parse(peers[rank].Split(':')[1], CultureInfo.InvariantCulture);
            transport = await CollectiveTransports.StartAsync("127.0.0.1", port);
            group = await ProcessGroup.CreateAsync(transport, new ProcessGroupOptions
            {
                GroupId = "dp-scaling", Rank = rank, WorldSize = world, Endpoints = peers, Timeout = TimeSpan.FromSeconds(60),
            });
        }
        try
        {
            using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
            using var trainer = new GanTrainer(spec, data, torch.CPU, group, overlapGradients: Options.Int(args, "--overlap", 1) != 0);
            for (int i = 0; i < 5; i++) trainer.TrainStep();
            if (group is not null) await group.BarrierAsync();
            var before = trainer.GradientAllReduceTime;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) trainer.TrainStep();
            double seconds = clock.Elapsed.TotalSeconds;
            var result = new ChildResult(seconds, (trainer.GradientAllReduceTime - before).TotalSeconds, trainer.GradientAllReduceBytes,
                steps, (long)batch * spec.Training.NCritic);
            Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        }
        finally
        {
            if (group is not null) await group.DisposeAsync();
            if (transport is not null) await transport.DisposeAsync();
        }
        return 0;
    }


    private static Process StartChild(string[] args)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }


}
