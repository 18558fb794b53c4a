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
