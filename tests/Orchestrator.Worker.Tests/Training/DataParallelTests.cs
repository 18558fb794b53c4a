using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Training;

public sealed class DataParallelTests
{
    static DataParallelTests() => torch.set_num_threads(1);

    private static TrialSpec Spec(string loss, int batch) => new()
    {
        Seed = 9,
        Data = new DataSpec { Dataset = Datasets.Ring8, BatchSize = batch, MixtureSize = 4096 },
        Model = new ModelSpec { Architecture = Architectures.Mlp, Hidden = 32, Layers = 2 },
        Latent = new LatentSpec { Dim = 4 },
        Loss = new LossSpec { Type = loss },
        Training = new TrainingSpec { Steps = 50, NCritic = 2 },
    };

    private static Dictionary<string, float[]> State(GanTrainer t)
    {
        var state = new Dictionary<string, float[]>();
        foreach (var (k, v) in t.G.state_dict()) state["G." + k] = v.to_type(ScalarType.Float32).data<float>().ToArray();
        foreach (var (k, v) in t.D.state_dict()) state["D." + k] = v.to_type(ScalarType.Float32).data<float>().ToArray();
        return state;
    }

    private static async Task<Dictionary<string, float[]>[]> TrainGroupAsync(TrialSpec spec, int worldSize, int steps)
    {
        var network = new InMemoryNetwork();
        var transports = Enumerable.Range(0, worldSize).Select(r => network.CreateTransport($"rank-{r}")).ToArray();
        var endpoints = transports.Select(t => t.Endpoint).ToArray();
        var groups = await Task.WhenAll(Enumerable.Range(0, worldSize).Select(r => ProcessGroup.CreateAsync(transports[r],
            new ProcessGroupOptions { GroupId = "dp-test", Rank = r, WorldSize = worldSize, Endpoints = endpoints, Timeout = TimeSpan.FromSeconds(30) })));
        try
        {
            // One dedicated thread per rank: TorchSharp's dispose scopes are per thread, as in a real worker.
            var ranks = Enumerable.Range(0, worldSize).Select(r => Task.Factory.StartNew(() =>
            {
                using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
                using var trainer = new GanTrainer(spec, data, torch.CPU, groups[r]);
                for (int i = 0; i < steps; i++) trainer.TrainStep();
                return State(trainer);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
            return await Task.WhenAll(ranks);
        }
        finally
        {
            foreach (var g in groups) await g.DisposeAsync();
            foreach (var t in transports) await t.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(LossTypes.NonSaturating, 2)]
    [InlineData(LossTypes.WganGp, 2)]
    [InlineData(LossTypes.WganGp, 3)]
    public async Task K_ranks_at_batch_b_end_with_the_parameters_of_one_process_at_batch_k_times_b(string loss, int k)
    {
        const int b = 16, steps = 50;
        Dictionary<string, float[]> expected;
        var single = Spec(loss, k * b);
        using (var data = DatasetLoader.LoadTrain(single.Data, single.Seed))
        using (var trainer = new GanTrainer(single, data, torch.CPU))
        {
            for (int i = 0; i < steps; i++) trainer.TrainStep();
            expected = State(trainer);
        }

        var ranks = await TrainGroupAsync(Spec(loss, b), k, steps);

        foreach (var (name, values) in expected)
        {
            for (int r = 0; r < k; r++)
            {
                var actual = ranks[r][name];
                double worst = 0;
                for (int i = 0; i < values.Length; i++) worst = Math.Max(worst, Math.Abs(values[i] - actual[i]));
                Assert.True(worst <= 1e-5, $"{name} on rank {r} differs from one process by {worst:E2}");
                Assert.Equal(ranks[0][name], actual); // ranks stay bit-identical to each other
            }
        }
    }

    [Fact]
    public async Task Ranks_with_different_model_shapes_fail_at_setup()
    {
        var network = new InMemoryNetwork();
        var transports = new[] { network.CreateTransport("a"), network.CreateTransport("b") };
        var endpoints = transports.Select(t => t.Endpoint).ToArray();
        var groups = await Task.WhenAll(Enumerable.Range(0, 2).Select(r => ProcessGroup.CreateAsync(transports[r],
            new ProcessGroupOptions { GroupId = "mismatch", Rank = r, WorldSize = 2, Endpoints = endpoints, Timeout = TimeSpan.FromSeconds(10) })));
        try
        {
            var specs = new[] { Spec(LossTypes.NonSaturating, 16), Spec(LossTypes.NonSaturating, 16) with { Model = new ModelSpec { Hidden = 48, Layers = 2 } } };
            var ranks = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(() =>
            {
                using var data = DatasetLoader.LoadTrain(specs[r].Data, specs[r].Seed);
                using var trainer = new GanTrainer(specs[r], data, torch.CPU, groups[r]);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ranks[1]);
            Assert.Contains("differ from rank 0", e.Message);
            await Task.WhenAny(ranks[0], Task.Delay(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            foreach (var g in groups) await g.DisposeAsync();
            foreach (var t in transports) await t.DisposeAsync();
        }
    }
}
