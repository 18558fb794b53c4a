using System.Diagnostics;
using System.Text.Json;
using System.Security.Cryptography;
using System.Text;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Losses;
using Orchestrator.Worker.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>
/// One GAN under training: G, D, their optimizers, the loss, the data stream and every source of randomness.
/// A step is n_critic D updates followed by one G update. Everything that decides the next step is
/// checkpointed, so resuming from step N continues exactly as if the run had never stopped.
/// </summary>
public sealed class GanTrainer : IDisposable
{
    private const int CheckpointFormat = 1;
    private static readonly byte[] Magic = "ORCKPT\r\n"u8.ToArray();
    // Module initialisation draws from TorchSharp's process-wide generator; trainers built concurrently in one
    // process (in-process replicas, tests) must not interleave their seeding and drawing.
    private static readonly Lock InitLock = new();

    private readonly TrialSpec _spec;
    private readonly Device _device;
    private readonly GanLoss _loss;
    private readonly LatentPrior _prior;
    private readonly Generator _random;
    private readonly BatchStream _stream;
    private readonly OptimizerHelper _optG;
    private readonly OptimizerHelper _optD;
    private readonly AdaptiveLrController? _controller;
    private readonly Parameter[] _gParams;
    private readonly Parameter[] _dParams;
    private readonly bool _penalty;
    private readonly bool _weightClip;
    private readonly ICommunicator? _group;
    private readonly GradientAverager? _gAverager;
    private readonly GradientAverager? _dAverager;
    private readonly int _rank;
    private readonly int _worldSize;
    /// <summary>dLoss, gLoss, penalty, fooled rate: averaged with G's gradients every step.</summary>
    private const int SharedScalars = 4;
    /// <summary>The stop vote rides with D's gradients (the step's first all-reduce), so whether another step
    /// follows is known before G's all-reduce, which the next step's real-batch D forward may then overlap.</summary>
    private const int StopVote = 1;
    private readonly bool _overlap;
    /// <summary>The next step's first real batch, its noise and the real half of D's update on it (forward and
    /// backward), computed while G's gradients travelled (<see cref="TrainStep"/> with nextStepFollows); null when none is held.</summary>
    private CriticBatch? _ahead;
    /// <summary>With <c>batch_split: by_speed</c> in a group: the split of each global batch between the ranks.</summary>
    private readonly BatchBalancer? _balancer;
    private readonly TimeProvider _time;
    /// <summary>This rank's rows of the next step's global batch.</summary>
    private BatchRows _rows;
    /// <summary>Samples per second of this rank's own compute in its last step (0 before the first): the balancer's input.</summary>
    private float _lastRate;
    private readonly float[]? _rates;

    /// <param name="group">Data-parallel group: every rank trains on its shard, starts from rank 0's state and
    /// averages gradients after each backward pass; null trains alone.</param>
    /// <param name="overlapGradients">Whether D's gradient all-reduce overlaps G's forward pass and G's overlaps the
    /// real half of the next step's first D update (the default; the same numbers either way). Off only to measure what the
    /// overlap is worth.</param>
    /// <param name="time">The clock a split by speed measures the ranks' compute with (the system's by default).</param>
    public GanTrainer(TrialSpec spec, TrainingData data, Device device, ICommunicator? group = null,
        int bucketBytes = GradientAverager.DefaultBucketBytes, bool overlapGradients = true, TimeProvider? time = null)
    {
        // Before libtorch allocates anything: the step's tensors then reuse the heap instead of fresh mappings.
        NativeHeap.Configure();
        _overlap = overlapGradients;
        _group = group;
        _rank = group?.Rank ?? 0;
        _worldSize = group?.WorldSize ?? 1;
        _spec = spec;
        _device = device;
        ClassCount = data.ClassCount;
        SampleShape = data.SampleShape;
        // Model initialisation draws from the global generator: seed it so every run (and rank) starts identical.
        lock (InitLock)
        {
            torch.random.manual_seed(spec.Seed);
            (G, D) = GanModels.Create(spec, data.SampleShape, data.ClassCount);
        }
        G.to(device);
        D.to(device);
        _gParams = G.parameters().ToArray();
        _dParams = D.parameters().ToArray();
        _optG = CreateOptimizer(spec.Optimizer.Generator, _gParams);
        _optD = CreateOptimizer(spec.Optimizer.Discriminator, _dParams);
        _loss = GanLoss.Create(spec.Loss);
        _penalty = spec.Loss.Type == Shared.Specs.LossTypes.WganGp;
        _weightClip = spec.Loss.Type == Shared.Specs.LossTypes.Wgan;
        _prior = new LatentPrior(spec.Latent, spec.Seed);
        // One noise stream for the whole group: every rank draws the global batch's noise and keeps its own rows,
        // so K ranks at batch b see exactly the noise one process at batch K·b sees.
        _random = new Generator((ulong)spec.Seed);
        _stream = new BatchStream(data, new ShardedSampler(data.Count, _rank, _worldSize, spec.Seed), spec.Data.PerReplicaBatch(_worldSize));
        _time = time ?? TimeProvider.System;
        _rows = _stream.EvenRows;
        if (group is not null && _worldSize > 1 && spec.Training.BatchSplit == BatchSplits.BySpeed && BatchBalancer.CanBalance(_stream.BatchSize))
        {
            _balancer = new BatchBalancer(_worldSize, _stream.BatchSize);
            _rates = new float[_worldSize];
            _rows = _balancer.RowsOf(_rank);
        }
        if (spec.AdaptiveLr.Enabled) _controller = new AdaptiveLrController(spec.AdaptiveLr, spec.Optimizer.Generator.Lr);
        if (group is not null)
        {
            _gAverager = new GradientAverager(group, _gParams, bucketBytes, SharedScalars, _time);
            // D's bucket also carries each rank's throughput when the split follows speed (slot 1 + rank).
            _dAverager = new GradientAverager(group, _dParams, bucketBytes, StopVote + (_balancer is null ? 0 : _worldSize), _time);
            CheckLayout(group, _gAverager.Fingerprint() + "/" + _dAverager.Fingerprint());
            GradientAverager.BroadcastState(group, G);
            GradientAverager.BroadcastState(group, D);
        }
    }

    /// <summary>Fails on every rank when any rank's models or bucket layout differ from rank 0's, before the first step.</summary>
    private static void CheckLayout(ICommunicator group, string fingerprint)
    {
        var mine = SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint));
        var rootHash = (byte[])mine.Clone();
        group.BroadcastAsync(rootHash.AsMemory(), root: 0).GetAwaiter().GetResult();
        bool same = rootHash.AsSpan().SequenceEqual(mine);
        var differing = new[] { same ? 0f : 1f };
        group.AllReduce(differing.AsMemory(), ReduceOp.Sum);
        if (differing[0] > 0)
            throw new InvalidOperationException(
                $"{differing[0]:F0} rank(s) have model shapes or gradient bucket layouts that differ from rank 0's" +
                (same ? "" : $"; rank {group.Rank} has {fingerprint}"));
    }

    /// <summary>
    /// Proves the replicas still hold identical parameters: each rank hashes its G and D parameters and compares
    /// with rank 0's; any difference fails every rank, naming the step. A collective: all ranks call it together.
    /// </summary>
    public void VerifyReplicas()
    {
        if (_group is null) return;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in _gParams.Concat(_dParams))
        {
            using var cpu = p.detach().cpu().contiguous();
            sha.AppendData(cpu.bytes);
        }
        // Ranks that disagreed on the split would train on overlapping rows while their parameters stay equal.
        if (_balancer is not null)
            foreach (var count in _balancer.Counts) sha.AppendData(BitConverter.GetBytes(count));
        var mine = sha.GetHashAndReset();
        var root = (byte[])mine.Clone();
        _group.BroadcastAsync(root.AsMemory(), root: 0).GetAwaiter().GetResult();
        // Every rank learns whether any rank drifted, so all of them stop, not only the one that differs.
        var drifted = new[] { root.AsSpan().SequenceEqual(mine) ? 0f : 1f };
        _group.AllReduce(drifted.AsMemory(), ReduceOp.Sum);
        if (drifted[0] > 0)
            throw new InvalidOperationException(
                $"replica drift at step {Step}: {drifted[0]:F0} rank(s) hold parameters that differ from rank 0's" +
                (root.AsSpan().SequenceEqual(mine) ? "" : $" (rank {_rank} is one of them)"));
    }

    /// <summary>Averages BatchNorm running statistics across the group (see <see cref="GradientAverager.AverageBuffers"/>).</summary>
    public void SynchronizeBuffers()
    {
        ThrowIfAhead(nameof(SynchronizeBuffers));
        if (_group is null) return;
        GradientAverager.AverageBuffers(_group, G);
        GradientAverager.AverageBuffers(_group, D);
    }

    /// <summary>This rank's rows of the group's noise for the global batch (the next draw of the one noise stream).</summary>
    private Tensor Noise(BatchRows rows)
    {
        var all = _prior.Sample(rows.Total, _random);
        if (rows.IsAll) return all;
        using (all) return rows.Select(all);
    }

    /// <summary>Samples of the global batch this rank takes in the next step.</summary>
    public int LocalBatchSize => _rows.Count;

    /// <summary>Samples per rank of the next step's global batch (index = rank).</summary>
    public IReadOnlyList<int> BatchSplit => _balancer?.Counts ?? Enumerable.Repeat(_stream.BatchSize, _worldSize).ToArray();

    public GanGenerator G { get; }
    public GanDiscriminator D { get; }
    public int ClassCount { get; }
    public long[] SampleShape { get; }
    /// <summary>Completed steps.</summary>
    public int Step { get; private set; }
    public AdaptiveLrController? Controller => _controller;

    /// <summary>Time this rank has spent in gradient all-reduces (both networks) since it was created.</summary>
    public TimeSpan GradientAllReduceTime =>
        Stopwatch.GetElapsedTime(0, (_gAverager?.AllReduceTicks ?? 0) + (_dAverager?.AllReduceTicks ?? 0));

    /// <summary>Gradient bytes this rank has all-reduced since it was created.</summary>
    public long GradientAllReduceBytes => (_gAverager?.AllReduceBytes ?? 0) + (_dAverager?.AllReduceBytes ?? 0);
    /// <summary>Where the next step's data starts (a batch read ahead by the last step still belongs to the next).</summary>
    public BatchPosition DataPosition => _ahead?.Position ?? _stream.Position;

    /// <summary>
    /// This rank wants the run to stop (a signal, a cancel). Carried with the step's D gradients, so every rank
    /// sees <see cref="StepStats.StopRequested"/> after the same step and they stop together.
    /// </summary>
    public bool StopRequested { get; set; }

    /// <summary>Runs one step: n_critic D updates, then one G update.</summary>
    /// <param name="nextStepFollows">The caller runs the next step right after this one, with no checkpoint,
    /// evaluation or buffer synchronisation between them. A group then reads the next step's first real batch and
    /// runs the real half of D's update on it (forward and backward) while G's gradients are all-reduced (D's
    /// parameters are final by then and G's update does not touch them; the data, noise and numbers are those of the
    /// plain order, which back-propagates the real half first too). Not done when some rank
    /// voted to stop in this step. Until that next step runs, <see cref="SaveCheckpoint"/>,
    /// <see cref="LoadCheckpoint"/> and <see cref="SynchronizeBuffers"/> refuse to run.</param>
    public StepStats TrainStep(bool nextStepFollows = false)
    {
        G.train();
        D.train();
        ApplySchedule();
        double dLoss = 0, fooled = 0, dNorm = 0;
        double? penalty = _penalty ? 0 : null;
        int nCritic = _spec.Training.NCritic;
        bool stop = StopRequested;
        // This step's rows; a split by speed may change _rows (the next step's) once D's all-reduce is back.
        var rows = _rows;
        float weight = _group is null ? 1f : (float)((double)rows.Count * _worldSize / rows.Total);
        if (_dAverager is not null) _dAverager.Weight = weight;
        if (_gAverager is not null) _gAverager.Weight = weight;
        long started = _time.GetTimestamp();
        long waitedBefore = (_gAverager?.AllReduceTicks ?? 0) + (_dAverager?.AllReduceTicks ?? 0);
        Tensor? lastLabels = null;
        Tensor? gFake = null;
        var ahead = _ahead;
        _ahead = null;
        try
        {
            for (int i = 0; i < nCritic; i++)
            {
                using var scope = torch.NewDisposeScope();
                // The real half of D's update: read while G's gradients travelled in the last step, or now.
                var batch = ahead ?? CriticReal(rows);
                ahead = null;
                scope.Attach(batch.Tensors);
                var (real, labels) = (batch.Real, batch.Labels);
                Tensor fake;
                using (torch.no_grad()) fake = G.call(batch.Noise, labels);

                // The fake half accumulates onto the real half's gradients (one backward of their sum, in two parts).
                var fakeScores = D.call(fake, labels);
                var loss = _loss.DiscriminatorFake(fakeScores);
                if (_penalty)
                {
                    var gp = GradientPenalty.Compute(x => D.call(x, labels), real, fake, _random, _group is null ? null : rows);
                    penalty += gp.item<float>() / nCritic;
                    loss = loss + _spec.Loss.GpLambda * gp;
                }
                loss.backward();
                if (_dAverager is not null)
                {
                    var extra = _dAverager.Extra;
                    extra[0] = stop ? 1 : 0;
                    if (_balancer is not null)
                    {
                        extra[1..].Clear();
                        extra[1 + _rank] = _lastRate;
                    }
                }
                if (_dAverager is not null && _overlap && i == nCritic - 1)
                {
                    // DDP-style overlap: D's gradients travel while G's forward pass runs, which needs neither
                    // those gradients nor the D parameters they update (the numbers are those of the plain order).
                    _dAverager.BeginAverage();
                    try
                    {
                        var gz = Noise(rows).to(_device);
                        gFake = G.call(gz, labels).MoveToOuterDisposeScope();
                    }
                    finally
                    {
                        _dAverager.EndAverage();
                    }
                }
                else
                {
                    _dAverager?.Average();
                }
                if (_dAverager is not null) stop = _dAverager.Extra[0] > 0;
                if (_balancer is not null && i == nCritic - 1)
                {
                    // Every rank's last rate, the same on every rank after the all-reduce (a mean: times W).
                    var extra = _dAverager!.Extra;
                    var rates = _rates!;
                    for (int r = 0; r < _worldSize; r++) rates[r] = extra[1 + r] * _worldSize;
                    if (_balancer.Observe(rates)) _rows = _balancer.RowsOf(_rank);
                }
                if (_spec.Training.GradClip is { } maxNorm)
                    dNorm += nn.utils.clip_grad_norm_(_dParams, maxNorm) / nCritic;
                _optD.step();
                if (_weightClip) ClipWeights(_dParams, _spec.Loss.ClipValue);

                dLoss += (batch.RealLoss + loss.item<float>()) / nCritic;
                using (var f = _loss.Fooled(batch.RealScores, fakeScores.detach()))
                using (var rate = f.to_type(ScalarType.Float32).mean())
                    fooled += rate.item<float>() / nCritic;
                if (i == nCritic - 1) lastLabels = labels.MoveToOuterDisposeScope();
            }

            double gLoss, gNorm = 0;
            using (var scope = torch.NewDisposeScope())
            {
                // G's batch uses the last real batch's labels so conditional fakes follow the data's class mix.
                _optG.zero_grad();
                var fake = gFake ?? G.call(Noise(rows).to(_device), lastLabels!);
                var loss = _loss.Generator(D.call(fake, lastLabels!));
                loss.backward();
                gLoss = loss.item<float>();
                if (_gAverager is not null)
                {
                    // The step's scalars travel with G's gradients (no collective of their own): every rank reports,
                    // and decides on, the group's means: the same lr decision everywhere, and a NaN on one rank ends
                    // the run on all of them at the same step instead of leaving them waiting.
                    var shared = _gAverager.Extra;
                    // Weighted like the gradients: the group's mean is the global batch's whatever the split.
                    shared[0] = (float)(dLoss * weight);
                    shared[1] = (float)(gLoss * weight);
                    shared[2] = (float)((penalty ?? 0) * weight);
                    shared[3] = (float)(fooled * weight);
                    if (nextStepFollows && _overlap && !stop)
                    {
                        _gAverager.BeginAverage();
                        try
                        {
                            // The next step's real half: D's parameters are final for this step and G's update
                            // does not touch them (G's backward left gradients on D's parameters: zeroed first).
                            _ahead = CriticReal(_rows);
                        }
                        finally
                        {
                            _gAverager.EndAverage();
                        }
                    }
                    else
                    {
                        _gAverager.Average();
                    }
                    // The same buffer now holds the group's means.
                    (dLoss, gLoss, fooled) = (shared[0], shared[1], shared[3]);
                    if (penalty is not null) penalty = shared[2];
                }
                if (_spec.Training.GradClip is { } maxNorm)
                    gNorm = nn.utils.clip_grad_norm_(_gParams, maxNorm);
                _optG.step();
            }

            Step++;
            if (_balancer is not null)
            {
                long waited = (_gAverager?.AllReduceTicks ?? 0) + (_dAverager?.AllReduceTicks ?? 0) - waitedBefore;
                double busy = _time.GetElapsedTime(started).TotalSeconds - (double)waited / _time.TimestampFrequency;
                _lastRate = busy > 0 ? (float)(rows.Count / busy) : 0f;
            }
            _controller?.Observe(fooled);
            if (_group is not null && _spec.Training.ChecksumEvery > 0 && Step % _spec.Training.ChecksumEvery == 0)
                VerifyReplicas();
            bool clip = _spec.Training.GradClip is not null;
            return new StepStats(Step, dLoss, gLoss, penalty, fooled, GeneratorLr, DiscriminatorLr,
                clip ? dNorm : null, clip ? gNorm : null, stop);
        }
        finally
        {
            ahead?.Dispose();
            lastLabels?.Dispose();
            gFake?.Dispose();
        }
    }

    /// <summary>
    /// The real half of one D update: the next batch of this rank's rows, its noise (the next draw of the noise
    /// stream), D's gradients zeroed and D's loss on the real batch back-propagated into them. G's forward on the
    /// noise and the fake half wait for G's parameters, which a step run with nextStepFollows is still updating.
    /// </summary>
    private CriticBatch CriticReal(BatchRows rows)
    {
        using var scope = torch.NewDisposeScope();
        var position = _stream.Position;
        var (inputs, batchLabels) = _stream.Next(rows);
        var real = inputs.to(_device);
        var labels = batchLabels.to(_device);
        var z = Noise(rows).to(_device);
        _optD.zero_grad();
        var realScores = D.call(real, labels);
        var loss = _loss.DiscriminatorReal(realScores);
        loss.backward();
        var batch = new CriticBatch(position, real, labels, z, realScores.detach(), loss.item<float>());
        scope.Detach(batch.Tensors);
        return batch;
    }

    private void ThrowIfAhead(string operation)
    {
        if (_ahead is not null)
            throw new InvalidOperationException(
                $"{operation}: step {Step} was run with nextStepFollows, so the next step's first batch is already read; " +
                "run that step first (pass nextStepFollows only when the next call is TrainStep)");
    }

    /// <summary>A real batch with its noise, D's (detached) scores on it and D's real loss, already back-propagated.</summary>
    private sealed record CriticBatch(BatchPosition Position, Tensor Real, Tensor Labels, Tensor Noise, Tensor RealScores, float RealLoss) : IDisposable
    {
        /// <summary>Each tensor once (moving a tensor to the device it is on may return the same tensor).</summary>
        public IDisposable[] Tensors { get; } =
            new Tensor[] { Real, Labels, Noise, RealScores }.Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>().ToArray();

        public void Dispose()
        {
            foreach (var tensor in Tensors) tensor.Dispose();
        }
    }

    /// <summary>
    /// Sets both rates for the step about to run: the schedule's factor times the base rate, where G's base is the
    /// adaptive controller's current rate when it is on. Derived from the step alone, so resume needs no extra state.
    /// </summary>
    private void ApplySchedule()
    {
        double factor = LrSchedules.Factor(_spec.Training.LrSchedule, Step, _spec.Training.Steps);
        double g = (_controller?.LearningRate ?? _spec.Optimizer.Generator.Lr) * factor;
        double d = _spec.Optimizer.Discriminator.Lr * factor;
        foreach (var group in _optG.ParamGroups) group.LearningRate = g;
        foreach (var group in _optD.ParamGroups) group.LearningRate = d;
    }

    public double GeneratorLr => _optG.ParamGroups.First().LearningRate;
    public double DiscriminatorLr => _optD.ParamGroups.First().LearningRate;

    /// <summary>
    /// G's samples for a fixed noise set derived from the seed alone (the same at every evaluation, untouched by
    /// training randomness), in eval mode, on the CPU. Conditional labels cycle through the classes.
    /// </summary>
    public Tensor SampleFixed(int count, int salt = 0)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator((ulong)_spec.Seed ^ (0xF1ED_0000UL + (ulong)salt));
        var z = _prior.Sample(count, g);
        var labels = torch.arange(count, dtype: ScalarType.Int64) % ClassCount;
        G.eval();
        var chunks = new List<Tensor>();
        using (torch.no_grad())
        {
            for (long start = 0; start < count; start += 500)
            {
                long n = Math.Min(500, count - start);
                var generated = G.call(z.narrow(0, start, n).to(_device), labels.narrow(0, start, n).to(_device));
                chunks.Add(generated.cpu());
            }
        }
        G.train();
        return torch.cat(chunks, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Writes every piece of state the next step depends on.</summary>
    public void SaveCheckpoint(Stream stream)
    {
        ThrowIfAhead(nameof(SaveCheckpoint));
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        var header = new CheckpointHeader(
            CheckpointFormat, Step, _stream.Position.Epoch, _stream.Position.Batch,
            Convert.ToBase64String(RngBytes(_random)), _controller?.Capture());
        writer.Write(JsonSerializer.Serialize(header, CheckpointJson.Default.CheckpointHeader));
        G.save(writer);
        D.save(writer);
        _optG.save_state_dict(writer);
        _optD.save_state_dict(writer);
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same trial spec.</summary>
    public void LoadCheckpoint(Stream stream, string source)
    {
        ThrowIfAhead(nameof(LoadCheckpoint));
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic))
            throw new InvalidDataException($"{source}: not an Orchestrator checkpoint (bad magic)");
        var header = JsonSerializer.Deserialize(reader.ReadString(), CheckpointJson.Default.CheckpointHeader)
            ?? throw new InvalidDataException($"{source}: empty checkpoint header");
        if (header.Format != CheckpointFormat)
            throw new InvalidDataException($"{source}: checkpoint format {header.Format}, this build reads {CheckpointFormat}");
        try
        {
            G.load(reader);
            D.load(reader);
            _optG.load_state_dict(reader);
            _optD.load_state_dict(reader);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EndOfStreamException)
        {
            throw new InvalidDataException($"{source}: checkpoint does not match this trial's models ({e.Message})", e);
        }
        Step = header.Step;
        _stream.Seek(new BatchPosition(header.Epoch, header.Batch));
        using (var state = torch.tensor(Convert.FromBase64String(header.Rng), dtype: ScalarType.Byte))
            _random.set_state(state);
        if (_controller is not null && header.Controller is not null) _controller.Restore(header.Controller);
        // The split is not part of the state (any split trains the same model): every rank starts even again.
        if (_balancer is not null)
        {
            _balancer.Reset();
            _rows = _balancer.RowsOf(_rank);
            _lastRate = 0;
        }
    }

    private static byte[] RngBytes(Generator generator)
    {
        using var state = generator.get_state();
        return state.bytes.ToArray();
    }

    private static void ClipWeights(Parameter[] parameters, double bound)
    {
        using var _ = torch.no_grad();
        foreach (var p in parameters) p.clamp_(-bound, bound);
    }

    private static OptimizerHelper CreateOptimizer(OptimizerSpec spec, Parameter[] parameters) => spec.Type switch
    {
        Optimizers.Adam => torch.optim.Adam(parameters, spec.Lr, spec.Beta1, spec.Beta2, weight_decay: spec.WeightDecay),
        Optimizers.RmsProp => torch.optim.RMSProp(parameters, spec.Lr, spec.Alpha, weight_decay: spec.WeightDecay),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Type, $"unknown optimizer; allowed: {string.Join(", ", Optimizers.All)}"),
    };

    public void Dispose()
    {
        _ahead?.Dispose();
        _gAverager?.Dispose();
        _dAverager?.Dispose();
        G.Dispose();
        D.Dispose();
        _optG.Dispose();
        _optD.Dispose();
        _prior.Dispose();
        _random.Dispose();
    }
}
