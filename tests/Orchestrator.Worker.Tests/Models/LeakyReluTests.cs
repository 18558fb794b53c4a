using Orchestrator.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Models;

public sealed class LeakyReluTests
{
    [Fact]
    public void Gives_torchs_leaky_relu_bit_for_bit_forward_and_backward_and_holds_its_slope_through_collections()
    {
        using var module = new LeakyRelu(0.2);
        using var x = torch.randn([64, 32], generator: new Generator(3)).requires_grad_();
        using var reference = x.detach().clone().requires_grad_();

        for (int i = 0; i < 50; i++)
        {
            // The slope Scalar is the module's: collections between calls must not reclaim it.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var y = module.call(x);
            using var expected = nn.functional.leaky_relu(reference, 0.2);
            Assert.Equal(expected.data<float>().ToArray(), y.data<float>().ToArray());
            if (i == 0)
            {
                y.sum().backward();
                expected.sum().backward();
                Assert.Equal(reference.grad!.data<float>().ToArray(), x.grad!.data<float>().ToArray());
            }
        }
        // No parameters or buffers: swapping it for nn.LeakyReLU changes no checkpoint key.
        Assert.Empty(module.state_dict());
    }
}
