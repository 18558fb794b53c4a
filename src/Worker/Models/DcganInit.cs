using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>DCGAN initialisation: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0.</summary>
public static class DcganInit
{
    public static void Apply(nn.Module module)
    {
        using var _ = torch.no_grad();
        foreach (var (_, child) in module.named_modules())
        {
            switch (child)
            {
                case Conv2d or ConvTranspose2d:
                    nn.init.normal_(child.get_parameter("weight")!, 0.0, 0.02);
                    break;
                case BatchNorm2d:
                    nn.init.normal_(child.get_parameter("weight")!, 1.0, 0.02);
                    nn.init.zeros_(child.get_parameter("bias")!);
                    break;
            }
        }
    }
}
