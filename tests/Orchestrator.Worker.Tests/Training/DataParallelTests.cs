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

    /// <summary>Forms an in-memory group and runs <paramref name="body"/> on each rank's trainer, one thread per rank.</summary>
    /// <param name="sharedMemory">All-reduce through shared memory (what ranks on one host do by default) instead of around the ring.</param>
    private static async Task<T[]> RunGroupAsync<T>(Func<int, TrialSpec> spec, int worldSize, Func<int, GanTrainer, T> body,
        Func<int, TimeProvider>? clock = null, bool sharedMemory = false)
    {
        var network = new InMemoryNetwork();
        var transports = Enumerable.Range(0, worldSize).Select(r => network.CreateTransport($"rank-{r}")).ToArray();
        var endpoints = transports.Select(t => t.Endpoint).ToArray();
        var groups = await Task.WhenAll(Enumerable.Range(0, worldSize).Select(r => ProcessGroup.CreateAsync(transports[r],
            new ProcessGroupOptions
            {
                GroupId = "dp-test", Rank = r, WorldSize = worldSize, Endpoints = endpoints, Timeout = TimeSpan.FromSeconds(30), SharedMemory = sharedMemory,
            })));
        try
        {
            Assert.All(groups, g => Assert.Equal(sharedMemory && worldSize > 1, g.UsesSharedMemory));
            // One dedicated thread per rank: TorchSharp's dispose scopes are per thread, as in a real worker.
            var ranks = Enumerable.Range(0, worldSize).Select(r => Task.Factory.StartNew(() =>
            {
                var rankSpec = spec(r);
                using var data = DatasetLoader.LoadTrain(rankSpec.Data, rankSpec.Seed);
                using var trainer = new GanTrainer(rankSpec, data, torch.CPU, groups[r], time: clock?.Invoke(r));
                return body(r, trainer);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            await Task.WhenAll(ranks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            return await Task.WhenAll(ranks);
        }
        finally
        {
            foreach (var g in groups) await g.DisposeAsync();
            foreach (var t in transports) await t.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(LossTypes.NonSaturating, 2, false, false)]
    [InlineData(LossTypes.NonSaturating, 2, true, false)]
    [InlineData(LossTypes.WganGp, 2, true, false)]
    [InlineData(LossTypes.WganGp, 3, true, false)]
    [InlineData(LossTypes.NonSaturating, 2, false, true)]
    [InlineData(LossTypes.NonSaturating, 3, true, true)]
    [InlineData(LossTypes.WganGp, 2, true, true)]
    public async Task K_ranks_at_batch_b_end_with_the_parameters_of_one_process_at_batch_k_times_b(string loss, int k, bool readAhead, bool sharedMemory)
    {
        const int b = 16, steps = 50;
        var expected = OneProcessState(Spec(loss, k * b), steps);

        // readAhead: every step but the last reads the next step's batch and runs D on it while G's gradients travel.
        // sharedMemory: the gradients' all-reduces are split on the training thread (published before, read after the overlap).
        var ranks = await RunGroupAsync(_ => Spec(loss, b), k, (_, trainer) =>
        {
            for (int i = 0; i < steps; i++) trainer.TrainStep(nextStepFollows: readAhead && i < steps - 1);
            return State(trainer);
        }, sharedMemory: sharedMemory);

        AssertRanksMatchOneProcess(expected, ranks);
    }

    [Fact]
    public async Task Training_through_shared_memory_gives_bit_for_bit_the_parameters_of_training_around_the_ring()
    {
        // Shared memory sums every element in the ring's order and divides once, so the path changes no number.
        const int k = 3, b = 16, steps = 30;
        Task<Dictionary<string, float[]>[]> TrainAsync(bool shm) => RunGroupAsync(_ => Spec(LossTypes.WganGp, b), k, (_, trainer) =>
        {
            for (int i = 0; i < steps; i++) trainer.TrainStep(nextStepFollows: i < steps - 1);
            return State(trainer);
        }, sharedMemory: shm);

        var ring = await TrainAsync(false);
        var shared = await TrainAsync(true);

        foreach (var (name, values) in ring[0])
        {
            for (int r = 0; r < k; r++) Assert.Equal(values, shared[r][name]);
        }
    }

    /// <summary>G's and D's state after <paramref name="steps"/> steps of one process with <paramref name="spec"/>.</summary>
    private static Dictionary<string, float[]> OneProcessState(TrialSpec spec, int steps)
    {
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        for (int i = 0; i < steps; i++) trainer.TrainStep();
        return State(trainer);
    }

    /// <summary>Every rank within 1e-5 of one process, and the ranks bit-identical to each other.</summary>
    private static void AssertRanksMatchOneProcess(Dictionary<string, float[]> expected, IReadOnlyList<Dictionary<string, float[]>> ranks)
    {
        foreach (var (name, values) in expected)
        {
            for (int r = 0; r < ranks.Count; r++)
            {
                var actual = ranks[r][name];
                double worst = 0;
                for (int i = 0; i < values.Length; i++) worst = Math.Max(worst, Math.Abs(values[i] - actual[i]));
                Assert.True(worst <= 1e-5, $"{name} on rank {r} differs from one process by {worst:E2}");
                Assert.Equal(ranks[0][name], actual);
            }
        }
    }

    /// <summary>A clock that moves on by a fixed amount at every reading: a rank whose clock moves k times faster
    /// measures its compute as k times slower, deterministically.</summary>
    private sealed class SteppingClock(long ticksPerReading) : TimeProvider
    {
        private long _now;
        public override long GetTimestamp() => _now += ticksPerReading;
    }

    [Theory]
    [InlineData(LossTypes.NonSaturating, 2, false)]
    [InlineData(LossTypes.NonSaturating, 2, true)]
    [InlineData(LossTypes.WganGp, 3, true)]
    public async Task A_split_by_speed_gives_slower_ranks_fewer_samples_and_still_ends_with_the_parameters_of_one_process(
        string loss, int k, bool readAhead)
    {
        const int b = 16, steps = 50;
        var expected = OneProcessState(Spec(loss, k * b), steps);

        // Rank r's compute reads as (r + 1) times slower than rank 0's.
        var ranks = await RunGroupAsync(_ => Spec(loss, b) with { Training = Spec(loss, b).Training with { BatchSplit = BatchSplits.BySpeed } }, k,
            (_, trainer) =>
            {
                var splits = new List<int[]>();
                for (int i = 0; i < steps; i++)
                {
                    splits.Add(trainer.BatchSplit.ToArray());
                    trainer.TrainStep(nextStepFollows: readAhead && i < steps - 1);
                }
                return (State: State(trainer), Splits: splits);
            },
            clock: r => new SteppingClock(1_000_000L * (r + 1)));

        var splits = ranks[0].Splits;
        Assert.All(ranks, rank => Assert.Equal(splits, rank.Splits)); // every rank took the same rows every step
        Assert.All(splits, split => Assert.Equal(k * b, split.Sum()));
        Assert.Equal(Enumerable.Repeat(b, k), splits[0]);
        var last = splits[^1];
        // (The clock's readings do not depend on the batch, so the slowest ranks end at the minimum, a quarter of b.)
        Assert.True(Enumerable.Range(1, k - 1).All(r => last[r] <= last[r - 1]) && last[0] > b && last[k - 1] == b / 4,
            $"final split {string.Join("/", last)}: slower ranks should hold fewer samples");
        Assert.True(splits.Select(s => string.Join("/", s)).Distinct().Count() >= 3, "the split should have moved over several steps");
        AssertRanksMatchOneProcess(expected, ranks.Select(r => r.State).ToArray());
    }

    [Fact]
    public async Task Ranks_with_different_model_shapes_fail_at_setup_on_every_rank()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => RunGroupAsync(
            r => r == 2 ? Spec(LossTypes.NonSaturating, 16) with { Model = new ModelSpec { Hidden = 48, Layers = 2 } } : Spec(LossTypes.NonSaturating, 16),
            3, (_, _) => 0));
        Assert.StartsWith("1 rank(s) have model shapes or gradient bucket layouts that differ from rank 0's", e.Message);
    }

    [Fact]
    public async Task Replica_checksum_passes_for_identical_ranks_and_fails_every_rank_after_a_drift()
    {
        var outcomes = await RunGroupAsync(_ => Spec(LossTypes.NonSaturating, 16) with { Training = new TrainingSpec { ChecksumEvery = 0 } }, 2, (rank, trainer) =>
        {
            for (int i = 0; i < 3; i++) trainer.TrainStep();
            trainer.VerifyReplicas();
            if (rank == 1)
                using (torch.no_grad()) trainer.G.parameters().First().add_(1e-3);
            try
            {
                trainer.VerifyReplicas();
                return "no error";
            }
            catch (InvalidOperationException e)
            {
                return e.Message;
            }
        });
        Assert.All(outcomes, m => Assert.StartsWith("replica drift at step 3: 1 rank(s)", m));
        Assert.Contains("rank 1 is one of them", outcomes[1]);
    }

    [Fact]
    public async Task A_non_finite_loss_on_one_rank_is_reported_by_every_rank_at_the_same_step()
    {
        var outcomes = await RunGroupAsync(_ => Spec(LossTypes.NonSaturating, 16) with { Training = new TrainingSpec { ChecksumEvery = 0 } }, 2, (rank, trainer) =>
        {
            trainer.TrainStep();
            trainer.TrainStep();
            // Only rank 1's critic is poisoned; rank 0's own losses at step 3 would still be finite.
            if (rank == 1)
                using (torch.no_grad()) trainer.D.parameters().First().fill_(double.NaN);
            var stats = trainer.TrainStep();
            return (stats.Step, stats.NonFiniteLoss);
        });
        Assert.All(outcomes, o => Assert.Equal((3, "d_loss is NaN"), o));
    }

    [Fact]
    public async Task Batch_norm_running_statistics_are_averaged_across_ranks()
    {
        var spec = TrainerFixtures.TinyDcgan(steps: 2);
        var results = await RunGroupAsync(_ => spec, 2, (_, trainer) =>
        {
            trainer.TrainStep();
            trainer.TrainStep();
            var before = trainer.G.named_buffers().First(b => b.name.EndsWith("running_mean")).buffer.data<float>().ToArray();
            trainer.SynchronizeBuffers();
            var after = trainer.G.named_buffers().First(b => b.name.EndsWith("running_mean")).buffer.data<float>().ToArray();
            return (before, after);
        });
        Assert.NotEqual(results[0].before, results[1].before); // each replica saw its own batches
        Assert.Equal(results[0].after, results[1].after);
        for (int i = 0; i < results[0].after.Length; i++)
            Assert.Equal((results[0].before[i] + results[1].before[i]) / 2, results[0].after[i], 5);
    }

    [Fact]
    public async Task Reading_the_next_batch_ahead_changes_no_number_with_batch_norm_and_conditional_labels()
    {
        // A conditional DCGAN with BatchNorm in D: the batch D sees ahead also moves its running statistics, so the
        // order of those forwards shows in the state too.
        var spec = TrainerFixtures.TinyDcgan(steps: 8);
        const int steps = 7;
        var runs = await Task.WhenAll(new[] { false, true }.Select(readAhead => RunGroupAsync(_ => spec, 2, (_, trainer) =>
        {
            var trace = new List<string>();
            for (int i = 0; i < steps; i++)
            {
                var stats = trainer.TrainStep(nextStepFollows: readAhead && i < steps - 1);
                trace.Add($"{stats} next at {trainer.DataPosition}");
            }
            return (trace, State(trainer));
        })));
        var (plain, ahead) = (runs[0], runs[1]);
        for (int r = 0; r < 2; r++)
        {
            Assert.Equal(plain[r].trace, ahead[r].trace);
            Assert.Equal(plain[r].Item2.Keys, ahead[r].Item2.Keys);
            foreach (var (name, values) in plain[r].Item2) Assert.True(values.AsSpan().SequenceEqual(ahead[r].Item2[name]), $"{name} on rank {r} differs");
        }
        Assert.Contains(plain[0].Item2.Keys, k => k.EndsWith("running_mean"));
    }

    [Fact]
    public async Task A_batch_read_ahead_blocks_checkpoints_until_its_step_runs_and_a_stop_vote_reads_nothing_ahead()
    {
        var spec = TrainerFixtures.TinyDcgan(steps: 8);
        var outcomes = await RunGroupAsync(_ => spec, 2, (rank, trainer) =>
        {
            trainer.TrainStep(nextStepFollows: true);
            var position = trainer.DataPosition;
            var refused = Assert.Throws<InvalidOperationException>(() => trainer.SaveCheckpoint(new MemoryStream()));
            Assert.Throws<InvalidOperationException>(() => trainer.SynchronizeBuffers());
            Assert.Throws<InvalidOperationException>(() => trainer.LoadCheckpoint(new MemoryStream(), "x"));
            Assert.Equal(position, trainer.DataPosition); // refusing changed nothing

            trainer.TrainStep();
            trainer.SynchronizeBuffers();
            trainer.SaveCheckpoint(new MemoryStream());

            // Rank 1 asks to stop: every rank learns it from this step, and none reads the next batch ahead.
            trainer.StopRequested = rank == 1;
            var stopped = trainer.TrainStep(nextStepFollows: true);
            trainer.SynchronizeBuffers();
            var checkpoint = new MemoryStream();
            trainer.SaveCheckpoint(checkpoint);
            return (refused.Message, stopped.Step, stopped.StopRequested, checkpoint.Length > 0);
        });
        Assert.All(outcomes, o =>
        {
            Assert.StartsWith("SaveCheckpoint: step 1 was run with nextStepFollows", o.Message);
            Assert.Equal((3, true, true), (o.Step, o.StopRequested, o.Item4));
        });
    }

    /// <summary>
    /// <paramref name="processes"/> in-memory ring members of <paramref name="devices"/> in-process replicas each, one
    /// thread per replica; results by global rank.
    /// </summary>
    private static async Task<T[]> RunReplicasAsync<T>(TrialSpec spec, int processes, int devices, Func<GanTrainer, T> body)
    {
        var network = new InMemoryNetwork();
        var transports = Enumerable.Range(0, processes).Select(p => network.CreateTransport($"process-{p}")).ToArray();
        var endpoints = transports.Select(t => t.Endpoint).ToArray();
        var rings = processes == 1 ? null : await Task.WhenAll(Enumerable.Range(0, processes).Select(p => ProcessGroup.CreateAsync(transports[p],
            new ProcessGroupOptions { GroupId = "dp-replicas", Rank = p, WorldSize = processes, Endpoints = endpoints, Timeout = TimeSpan.FromSeconds(30) })));
        try
        {
            var replicas = Enumerable.Range(0, processes).SelectMany(p => ReplicaGroup.Create(devices, rings?[p]).Replicas).ToArray();
            var threads = replicas.Select(replica => Task.Factory.StartNew(() =>
            {
                using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
                using var trainer = new GanTrainer(spec, data, torch.CPU, replica);
                return body(trainer);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            await Task.WhenAll(threads.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            return await Task.WhenAll(threads);
        }
        finally
        {
            foreach (var g in rings ?? []) await g.DisposeAsync();
            foreach (var t in transports) await t.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(LossTypes.NonSaturating, 1, 2)]
    [InlineData(LossTypes.WganGp, 1, 2)]
    [InlineData(LossTypes.WganGp, 2, 2)]
    public async Task Replicas_inside_processes_at_global_batch_b_end_with_the_parameters_of_one_process_at_batch_b(string loss, int processes, int devices)
    {
        const int global = 48, steps = 50;
        var single = Spec(loss, global);
        var expected = OneProcessState(single, steps);

        // The trial sets the global batch; each of the P·D replicas takes its share.
        var split = single with { Data = single.Data with { BatchSize = new DataSpec().BatchSize, GlobalBatchSize = global } };
        var ranks = await RunReplicasAsync(split, processes, devices, trainer =>
        {
            for (int i = 0; i < steps; i++) trainer.TrainStep(nextStepFollows: i < steps - 1);
            return State(trainer);
        });

        Assert.Equal(processes * devices, ranks.Length);
        AssertRanksMatchOneProcess(expected, ranks);
    }
}
