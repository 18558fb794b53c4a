using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Losses;

public sealed class LossTests
{
    // Off every kink of relu so gradients are unambiguous.
    private static readonly double[] Real = [1.5, -0.5, 0.25];
    private static readonly double[] Fake = [0.2, -1.5, 0.7];
    private const double Tol = 1e-6;

    private static double Softplus(double x) => Math.Log(1 + Math.Exp(x));
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    private static double Mean(double[] v, Func<double, double> f) => v.Select(f).Average();

    private static (double Loss, double[] RealGrad, double[] FakeGrad) DiscriminatorLoss(GanLoss loss)
    {
        using var r = torch.tensor(Real, dtype: ScalarType.Float64).requires_grad_(true);
        using var f = torch.tensor(Fake, dtype: ScalarType.Float64).requires_grad_(true);
        using var value = loss.Discriminator(r, f);
        value.backward();
        return (value.item<double>(), r.grad!.data<double>().ToArray(), f.grad!.data<double>().ToArray());
    }

    private static (double Loss, double[] FakeGrad) GeneratorLoss(GanLoss loss)
    {
        using var f = torch.tensor(Fake, dtype: ScalarType.Float64).requires_grad_(true);
        using var value = loss.Generator(f);
        value.backward();
        return (value.item<double>(), f.grad!.data<double>().ToArray());
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], Tol);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.9)]
    public void Bce_discriminator_loss_and_gradient_match_hand_computation(double realLabel)
    {
        var (loss, gr, gf) = DiscriminatorLoss(new NonSaturatingLoss(realLabel));
        double n = Real.Length;
        double expected = Mean(Real, r => realLabel * Softplus(-r) + (1 - realLabel) * Softplus(r)) + Mean(Fake, Softplus);
        Assert.Equal(expected, loss, Tol);
        // d/dr [y softplus(-r) + (1-y) softplus(r)] = sigmoid(r) - y; d/df softplus(f) = sigmoid(f).
        AssertClose(Real.Select(r => (Sigmoid(r) - realLabel) / n).ToArray(), gr);
        AssertClose(Fake.Select(f => Sigmoid(f) / n).ToArray(), gf);
    }

    [Fact]
    public void Minimax_discriminator_equals_non_saturating_discriminator()
    {
        var (a, _, _) = DiscriminatorLoss(new MinimaxLoss(0.9));
        var (b, _, _) = DiscriminatorLoss(new NonSaturatingLoss(0.9));
        Assert.Equal(b, a, Tol);
    }

    [Fact]
    public void Minimax_generator_minimises_log_one_minus_d()
    {
        var (loss, grad) = GeneratorLoss(new MinimaxLoss(1.0));
        // log(1 - sigmoid(f)) = -softplus(f)
        Assert.Equal(Mean(Fake, f => Math.Log(1 - Sigmoid(f))), loss, Tol);
        AssertClose(Fake.Select(f => -Sigmoid(f) / Fake.Length).ToArray(), grad);
    }

    [Fact]
    public void Non_saturating_generator_maximises_log_d()
    {
        var (loss, grad) = GeneratorLoss(new NonSaturatingLoss(1.0));
        Assert.Equal(Mean(Fake, f => -Math.Log(Sigmoid(f))), loss, Tol);
        AssertClose(Fake.Select(f => -Sigmoid(-f) / Fake.Length).ToArray(), grad);
    }

    [Fact]
    public void Non_saturating_generator_gradient_does_not_vanish_where_minimax_does()
    {
        // Early in training D rejects fakes confidently (very negative logits): the minimax gradient vanishes.
        using var f1 = torch.tensor(new[] { -8.0 }, dtype: ScalarType.Float64).requires_grad_(true);
        using var f2 = torch.tensor(new[] { -8.0 }, dtype: ScalarType.Float64).requires_grad_(true);
        new MinimaxLoss(1).Generator(f1).backward();
        new NonSaturatingLoss(1).Generator(f2).backward();
        Assert.True(Math.Abs(f1.grad!.item<double>()) < 1e-3);
        Assert.True(Math.Abs(f2.grad!.item<double>()) > 0.99);
    }

    [Fact]
    public void Wasserstein_losses_match_hand_computation()
    {
        var (d, gr, gf) = DiscriminatorLoss(new WassersteinLoss());
        Assert.Equal(Fake.Average() - Real.Average(), d, Tol);
        AssertClose(Real.Select(_ => -1.0 / Real.Length).ToArray(), gr);
        AssertClose(Fake.Select(_ => 1.0 / Fake.Length).ToArray(), gf);
        var (g, gg) = GeneratorLoss(new WassersteinLoss());
        Assert.Equal(-Fake.Average(), g, Tol);
        AssertClose(Fake.Select(_ => -1.0 / Fake.Length).ToArray(), gg);
    }

    [Fact]
    public void Hinge_losses_match_hand_computation()
    {
        var (d, gr, gf) = DiscriminatorLoss(new HingeLoss());
        Assert.Equal(Mean(Real, r => Math.Max(0, 1 - r)) + Mean(Fake, f => Math.Max(0, 1 + f)), d, Tol);
        AssertClose(Real.Select(r => r < 1 ? -1.0 / Real.Length : 0).ToArray(), gr);
        AssertClose(Fake.Select(f => f > -1 ? 1.0 / Fake.Length : 0).ToArray(), gf);
        var (g, _) = GeneratorLoss(new HingeLoss());
        Assert.Equal(-Fake.Average(), g, Tol);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.9)]
    public void Least_squares_losses_match_hand_computation(double realLabel)
    {
        var (d, gr, gf) = DiscriminatorLoss(new LeastSquaresLoss(realLabel));
        Assert.Equal(0.5 * Mean(Real, r => (r - realLabel) * (r - realLabel)) + 0.5 * Mean(Fake, f => f * f), d, Tol);
        AssertClose(Real.Select(r => (r - realLabel) / Real.Length).ToArray(), gr);
        AssertClose(Fake.Select(f => f / Fake.Length).ToArray(), gf);
        var (g, gg) = GeneratorLoss(new LeastSquaresLoss(realLabel));
        Assert.Equal(0.5 * Mean(Fake, f => (f - 1) * (f - 1)), g, Tol);
        AssertClose(Fake.Select(f => (f - 1) / Fake.Length).ToArray(), gg);
    }

    [Fact]
    public void Gradient_penalty_of_a_linear_critic_equals_its_analytic_value_and_gradient()
    {
        // D(x) = w·x + b has ∇x D = w everywhere, so the penalty is (‖w‖ − 1)² at every interpolate, and its
        // gradient with respect to w is 2(‖w‖ − 1) w / ‖w‖ — which only flows if the penalty kept its graph.
        double[] wValues = [0.3, -1.2, 2.0];
        using var w = torch.tensor(wValues, dtype: ScalarType.Float64).requires_grad_(true);
        using var b = torch.tensor(0.7, dtype: ScalarType.Float64).requires_grad_(true);
        using var g = new Generator(5);
        using var real = torch.randn([16, 3], dtype: ScalarType.Float64, generator: g);
        using var fake = torch.randn([16, 3], dtype: ScalarType.Float64, generator: g) * 3;

        using var penalty = GradientPenalty.Compute(x => x.matmul(w) + b, real, fake, g);
        penalty.backward();

        double norm = Math.Sqrt(wValues.Sum(v => v * v));
        Assert.Equal((norm - 1) * (norm - 1), penalty.item<double>(), 1e-9);
        AssertClose(wValues.Select(v => 2 * (norm - 1) * v / norm).ToArray(), w.grad!.data<double>().ToArray());
        Assert.Equal(0.0, b.grad?.item<double>() ?? 0.0, 1e-12);
    }

    [Fact]
    public void Gradient_penalty_is_zero_for_a_unit_norm_linear_critic()
    {
        using var w = torch.tensor(new[] { 0.6, 0.8 }, dtype: ScalarType.Float64);
        using var real = torch.randn([8, 2], dtype: ScalarType.Float64);
        using var fake = torch.randn([8, 2], dtype: ScalarType.Float64);
        using var penalty = GradientPenalty.Compute(x => x.matmul(w), real, fake);
        Assert.Equal(0.0, penalty.item<double>(), 1e-12);
    }

    [Fact]
    public void Fooled_rate_uses_the_decision_threshold_for_classifiers_and_the_real_mean_for_critics()
    {
        using var real = torch.tensor(new[] { 2.0, 4.0 });
        using var fake = torch.tensor(new[] { -1.0, 0.5, 3.5, 1.0 });
        using var bce = new NonSaturatingLoss(1).Fooled(real, fake).to_type(ScalarType.Float32).mean();
        using var critic = new WassersteinLoss().Fooled(real, fake).to_type(ScalarType.Float32).mean();
        using var ls = new LeastSquaresLoss(1).Fooled(real, fake).to_type(ScalarType.Float32).mean();
        Assert.Equal(0.75, bce.item<float>(), 6);   // > 0
        Assert.Equal(0.25, critic.item<float>(), 6); // > mean real score 3
        Assert.Equal(0.5, ls.item<float>(), 6);     // > 0.5
    }

    [Fact]
    public void Every_loss_name_in_the_spec_creates_a_loss()
    {
        foreach (var name in Shared.Specs.LossTypes.All)
            Assert.NotNull(GanLoss.Create(new LossSpec { Type = name }));
    }
}
