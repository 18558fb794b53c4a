using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Copies a tensor's raw contents to and from byte spans: zero-copy through <c>tensor.bytes</c> for contiguous
/// CPU tensors, through a CPU staging tensor otherwise (GPU or strided).
/// </summary>
public static class TensorBytes
{
    public static void CopyTo(Tensor tensor, Span<byte> target)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            tensor.bytes.CopyTo(target);
            return;
        }
        using var cpu = tensor.cpu().contiguous();
        cpu.bytes.CopyTo(target);
    }

    public static void CopyFrom(ReadOnlySpan<byte> source, Tensor tensor)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            source.CopyTo(tensor.bytes);
            return;
        }
        using var cpu = torch.empty(tensor.shape, tensor.dtype);
        source.CopyTo(cpu.bytes);
        using var _ = torch.no_grad();
        tensor.copy_(cpu);
    }
}
