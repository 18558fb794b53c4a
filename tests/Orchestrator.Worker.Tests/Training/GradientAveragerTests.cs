using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Training;

public sealed class GradientAveragerTests
{
    static GradientAveragerTests() => torch.set_num_threads(1);

    [Theory]
    [InlineData(1 << 20)] // one bucket
    [InlineData(64)] // every parameter in a bucket of its own
    public async Task Extra_values_are_averaged_with_the_gradients_and_leave_them_as_they_would_be(int bucketBytes)
    {
        const int Replicas = 3;
        var group = ReplicaGroup.Create(Replicas);
        var results = Enumerable.Range(0, Replicas).Select(r => Task.Factory.StartNew(() =>
        {
            using var scope = torch.NewDisposeScope();
            var parameters = MakeGradients(r);
            var plain = MakeGradients(r);
            var withExtra = new GradientAverager(group.Replicas[r], parameters, bucketBytes, extraValues: 3);
            var without = new GradientAverager(group.Replicas[r], plain, bucketBytes);
            Assert.Equal(3, withExtra.Extra.Length);
            Assert.Equal(0, without.Extra.Length);
            withExtra.Extra[0] = r;
            withExtra.Extra[1] = 10 * r;
            withExtra.Extra[2] = r == 1 ? 1 : 0;
            withExtra.Average();
            without.Average();
            var extra = withExtra.Extra.ToArray();
            var grads = parameters.Select(p => p.grad!.data<float>().ToArray()).ToArray();
            var plainGrads = plain.Select(p => p.grad!.data<float>().ToArray()).ToArray();
            return (extra, grads, plainGrads, withExtra.Fingerprint(), without.Fingerprint(), withExtra.AllReduceBytes, without.AllReduceBytes);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        foreach (var (extra, grads, plainGrads, fingerprint, plainFingerprint, bytes, plainBytes) in await Task.WhenAll(results))
        {
            Assert.Equal([1f, 10f, 1f / 3], extra);
            for (int i = 0; i < grads.Length; i++) Assert.Equal(plainGrads[i], grads[i]);
            // Mean of r * (index + 1) over r = 0, 1, 2 is index + 1.
            Assert.Equal(Enumerable.Range(1, grads[0].Length).Select(v => (float)v), grads[0]);
            Assert.NotEqual(plainFingerprint, fingerprint);
            Assert.Equal(plainBytes, bytes);
        }
    }

    [Fact]
    public async Task A_network_without_parameters_still_averages_its_extra_values()
    {
        var group = ReplicaGroup.Create(2);
        var results = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(() =>
        {
            var averager = new GradientAverager(group.Replicas[r], [], extraValues: 1);
            averager.Extra[0] = r == 0 ? 4 : 8;
            averager.Average();
            return averager.Extra[0];
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        Assert.All(await Task.WhenAll(results), mean => Assert.Equal(6f, mean));
    }

    [Fact]
    public async Task Overlapped_averages_run_step_after_step_on_one_communication_thread()
    {
        var group = ReplicaGroup.Create(2);
        var results = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(() =>
        {
            using var scope = torch.NewDisposeScope();
            var parameters = MakeGradients(r);
            var recording = new Recording(group.Replicas[r]);
            using var averager = new GradientAverager(recording, parameters, bucketBytes: 16, extraValues: 1);
            var means = new List<float>();
            for (int step = 0; step < 20; step++)
            {
                foreach (var p in parameters) p.grad!.fill_(r * step);
                averager.Extra[0] = r == 0 ? step : 3 * step;
                averager.BeginAverage();
                averager.EndAverage();
                means.Add(parameters[1].grad!.data<float>()[0]);
                means.Add(averager.Extra[0]);
            }
            return (means, averager.BucketCount, recording.Threads, Environment.CurrentManagedThreadId);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        foreach (var (means, buckets, threads, caller) in await Task.WhenAll(results))
        {
            Assert.True(buckets > 1);
            // Every bucket of every step went out from one thread, and not the caller's.
            Assert.Equal(20 * buckets, threads.Count);
            Assert.Single(threads.Distinct());
            Assert.NotEqual(caller, threads[0]);
            // Step s: gradients 0 and s average to s/2; extras s and 3s to 2s.
            Assert.Equal(Enumerable.Range(0, 20).SelectMany(s => new[] { s / 2f, 2f * s }), means);
        }
    }

    [Fact]
    public void A_failed_overlapped_all_reduce_surfaces_at_EndAverage_and_the_next_one_runs()
    {
        var parameters = MakeGradients(1);
        var communicator = new FailingOnce();
        using var averager = new GradientAverager(communicator, parameters);
        averager.BeginAverage();
        var error = Assert.Throws<InvalidOperationException>(averager.EndAverage);
        Assert.Equal("peer gone", error.Message);
        averager.BeginAverage();
        averager.EndAverage();
        Assert.Equal(2, communicator.Calls);
        Assert.Throws<InvalidOperationException>(averager.EndAverage);
        averager.BeginAverage();
        Assert.Throws<InvalidOperationException>(averager.BeginAverage);
        Assert.Throws<InvalidOperationException>(averager.Average);
        averager.EndAverage();
    }

    private sealed class Recording(ICommunicator inner) : ICommunicator
    {
        public List<int> Threads { get; } = [];
        public int Rank => inner.Rank;
        public int WorldSize => inner.WorldSize;

        public Task AllReduceAsync(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default)
        {
            lock (Threads) Threads.Add(Environment.CurrentManagedThreadId);
            return inner.AllReduceAsync(buffer, op, cancellationToken);
        }

        public Task BroadcastAsync(Memory<byte> buffer, int root, CancellationToken cancellationToken = default) => inner.BroadcastAsync(buffer, root, cancellationToken);
        public Task BroadcastAsync(Memory<float> buffer, int root, CancellationToken cancellationToken = default) => inner.BroadcastAsync(buffer, root, cancellationToken);
        public Task BarrierAsync(CancellationToken cancellationToken = default) => inner.BarrierAsync(cancellationToken);
    }

    private sealed class FailingOnce : ICommunicator
    {
        public int Calls;
        public int Rank => 0;
        public int WorldSize => 1;

        public Task AllReduceAsync(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref Calls) == 1 ? Task.FromException(new InvalidOperationException("peer gone")) : Task.CompletedTask;

        public Task BroadcastAsync(Memory<byte> buffer, int root, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task BroadcastAsync(Memory<float> buffer, int root, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task BarrierAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    private static Parameter[] MakeGradients(int rank)
    {
        var parameters = new[] { new Parameter(zeros(2, 3)), new Parameter(zeros(5)), new Parameter(zeros(4, 1)) };
        foreach (var p in parameters)
        {
            long n = p.numel();
            p.grad = arange(1, n + 1, dtype: ScalarType.Float32).reshape(p.shape) * rank;
        }
        return parameters;
    }
}
