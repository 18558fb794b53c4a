using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>LeakyReLU whose negative slope is one <see cref="Scalar"/> held for the module's lifetime.</summary>
/// <remarks>
/// TorchSharp 0.107's <c>nn.LeakyReLU</c> turns its double slope into a new Scalar on every call and hands libtorch
/// only that Scalar's native handle; nothing keeps the temporary reachable, and its finalizer frees the native scalar.
/// A GC at that moment lets libtorch read freed memory: seen once in CI as "Expected false to be true" from
/// <c>c10::Scalar::toFloat</c> inside <c>leaky_relu</c>, in a test process whose other tests were collecting often.
/// A Scalar referenced by the module lives as long as the model (and is not allocated again every forward pass).
/// </remarks>
public sealed class LeakyRelu : nn.Module<Tensor, Tensor>
{
    private readonly Scalar _negativeSlope;

    public LeakyRelu(double negativeSlope) : base(nameof(LeakyRelu))
    {
        _negativeSlope = negativeSlope.ToScalar();
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => input.leaky_relu(_negativeSlope);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _negativeSlope.Dispose();
        base.Dispose(disposing);
    }
}
