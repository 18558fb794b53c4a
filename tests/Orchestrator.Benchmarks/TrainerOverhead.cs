using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Models;
using Orchestrator.Worker.Training;
using TorchSharp;
using static TorchSharp.torch;
using static Orchestrator.Benchmarks.Figures;

namespace Orchestrator.Benchmarks;

/// <summary>
/// trainer_overhead: the engine's step time against a bare TorchSharp loop with the same DCGAN models, batch 64,
/// on the bundled MNIST subset. Both run in one process in alternating rounds (the machine is shared and noisy,
/// so the figure is the median of per-round ratios). Also steps/s of the ring8 MLP and DCGAN 28x28, and resident
/// set and live-tensor growth over 2,000 steps after warm-up.
/// </summary>
public static class TrainerOverhead
{
    public static int Run(string[] args)
    {
        int rounds = Options.Int(args, "--rounds", 25);
        // Short blocks measured back to back: load on this shared machine drifts on a scale of seconds.
        int stepsPerRound = Options.Int(args, "--steps", 10);
        int memorySteps = Options.Int(args, "--memory-steps", 2000);
        int threads = Options.Int(args, "--threads", 1);
        torch.set_num_threads(threads);
        Console.WriteLine($"trainer_overhead: {rounds} rounds x {stepsPerRound} steps each, {threads} intra-op thread(s)");

        var dcgan = new TrialSpec
        {
            Seed = 1,
            Data = new DataSpec { Dataset = Datasets.MnistSubset, BatchSize = 64 },
            Model = new ModelSpec { Architecture = Architectures.Dcgan, Features = 32 },
            Latent = new LatentSpec { Dim = 64 },
            Loss = new LossSpec { Type = LossTypes.NonSaturating },
        };
        using var mnist = DatasetLoader.LoadTrain(dcgan.Data, dcgan.Seed);
        using var trainer = new GanTrainer(dcgan, mnist, torch.CPU);
        using var bare = new BareLoop(dcgan, mnist);

        // Warm-up: first calls allocate and pick kernels.
        for (int i = 0; i < 10; i++) { trainer.TrainStep(); bare.Step(); }

        var ratios = new List<double>();
        var trainerMs = new List<double>();
        var bareMs = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            // Alternate which goes first so drift in machine load does not favour one side.
            double t, b;
            if (r % 2 == 0) { t = Time(() => trainer.TrainStep(), stepsPerRound); b = Time(bare.Step, stepsPerRound); }
            else { b = Time(bare.Step, stepsPerRound); t = Time(() => trainer.TrainStep(), stepsPerRound); }
            trainerMs.Add(t);
            bareMs.Add(b);
            ratios.Add(t / b);
            Console.WriteLine($"  round {r + 1}: trainer {t:F2} ms/step, bare loop {b:F2} ms/step, ratio {t / b:F3}");
        }
        double overhead = Median(ratios);
        var sortedRatios = ratios.Order().ToArray();
        double q1 = sortedRatios[sortedRatios.Length / 4], q3 = sortedRatios[3 * sortedRatios.Length / 4];
        Console.WriteLine($"  ratio median {overhead:F3}, interquartile range {q1:F3} .. {q3:F3}");
        double dcganStepsPerSecond = 1000 / Median(trainerMs);

        var ring = new TrialSpec
        {
            Seed = 1,
            Data = new DataSpec { Dataset = Datasets.Ring8, BatchSize = 256 },
            Model = new ModelSpec { Architecture = Architectures.Mlp, Hidden = 256, Layers = 3 },
            Latent = new LatentSpec { Dim = 16 },
            Loss = new LossSpec { Type = LossTypes.WganGp },
            Training = new TrainingSpec { NCritic = 5 },
        };
        using var ringData = DatasetLoader.LoadTrain(ring.Data, ring.Seed);
        using var ringTrainer = new GanTrainer(ring, ringData, torch.CPU);
        for (int i = 0; i < 10; i++) ringTrainer.TrainStep();
        double ringMs = Time(() => ringTrainer.TrainStep(), 100);
        Console.WriteLine($"  ring8 MLP (256x3, WGAN-GP, n_critic 5, batch 256): {1000 / ringMs:F1} steps/s");
        Console.WriteLine($"  DCGAN 28x28 (features 32, batch 64): {dcganStepsPerSecond:F1} steps/s");

        // Memory: after warm-up, RSS and live tensors must not grow with steps.
        Console.WriteLine($"  memory: {memorySteps} DCGAN steps after warm-up");
        for (int i = 0; i < 200; i++) trainer.TrainStep();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long rssBefore = Process.GetCurrentProcess().WorkingSet64;
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < memorySteps; i++) trainer.TrainStep();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long rssAfter = Process.GetCurrentProcess().WorkingSet64;
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        double rssGrowthMb = (rssAfter - rssBefore) / 1048576.0;
        Console.WriteLine($"  rss {rssBefore >> 20} MB -> {rssAfter >> 20} MB ({rssGrowthMb:F1} MB), live tensors {liveBefore} -> {liveAfter}");

        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["scenario"] = "trainer_overhead",
            ["trainer_overhead"] = Math.Round(overhead, 4),
            ["trainer_overhead_q1"] = Math.Round(q1, 4),
            ["trainer_overhead_q3"] = Math.Round(q3, 4),
            ["rounds"] = rounds,
            ["steps_per_round"] = stepsPerRound,
            ["trainer_ms_per_step"] = Math.Round(Median(trainerMs), 3),
            ["bare_loop_ms_per_step"] = Math.Round(Median(bareMs), 3),
            ["dcgan28_steps_per_sec"] = Math.Round(dcganStepsPerSecond, 2),
            ["ring8_mlp_steps_per_sec"] = Math.Round(1000 / ringMs, 2),
            ["rss_growth_mb_over_steps"] = Math.Round(rssGrowthMb, 1),
            ["memory_steps"] = memorySteps,
            ["live_tensor_growth"] = liveAfter - liveBefore,
            ["threads"] = threads,
        }));
        return 0;
    }

    private static double Time(Action step, int steps)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) step();
        return sw.Elapsed.TotalMilliseconds / steps;
    }


    /// <summary>
    /// What a user writes by hand with TorchSharp: the same G and D classes, Adam, non-saturating BCE, one D and
    /// one G update per step, batches drawn by index from the data tensor. No logging, no checks.
    /// </summary>
    private sealed class BareLoop : IDisposable
    {
        private readonly GanGenerator _g;
        private readonly GanDiscriminator _d;
        private readonly optim.Optimizer _optG;
        private readonly optim.Optimizer _optD;
        private readonly Tensor _images;
        private readonly Tensor _labels;
        private readonly int _batch;
        private readonly int _latent;
        private long _cursor;
        private Tensor _order;

        public BareLoop(TrialSpec spec, TrainingData data)
        {
            (_g, _d) = GanModels.Create(spec, data.SampleShape, data.ClassCount);
            _optG = optim.Adam(_g.parameters(), 2e-4, 0.5, 0.999);
            _optD = optim.Adam(_d.parameters(), 2e-4, 0.5, 0.999);
            _images = data.Inputs;
            _labels = data.Labels;
            _batch = spec.Data.BatchSize;
            _latent = spec.Latent.Dim;
            _order = torch.randperm(data.Count);
        }

        public void Step()
        {
            using var scope = torch.NewDisposeScope();
            if (_cursor + _batch > _order.shape[0])
            {
                _order.Dispose();
                _order = torch.randperm(_images.shape[0]).MoveToOuterDisposeScope();
                _cursor = 0;
            }
            var idx = _order.narrow(0, _cursor, _batch);
            _cursor += _batch;
            var real = _images.index_select(0, idx);
            var labels = _labels.index_select(0, idx);

            var z = torch.randn(_batch, _latent);
            Tensor fake;
            using (torch.no_grad()) fake = _g.call(z, labels);
            _optD.zero_grad();
            var dLoss = nn.functional.softplus(-_d.call(real, labels)).mean() + nn.functional.softplus(_d.call(fake, labels)).mean();
            dLoss.backward();
            _optD.step();

            _optG.zero_grad();
            var gLoss = nn.functional.softplus(-_d.call(_g.call(torch.randn(_batch, _latent), labels), labels)).mean();
            gLoss.backward();
            _optG.step();
        }

        public void Dispose()
        {
            _g.Dispose();
            _d.Dispose();
            _optG.Dispose();
            _optD.Dispose();
            _order.Dispose();
        }
    }
}
