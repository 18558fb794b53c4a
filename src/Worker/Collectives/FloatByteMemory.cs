using System.Buffers;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Views a float buffer as bytes without copying: .NET has no Memory&lt;float&gt; to Memory&lt;byte&gt; cast, and
/// transports need Memory (not Span) to send straight from the caller's buffer across awaits.
/// </summary>
internal sealed unsafe class FloatByteMemory(Memory<float> floats) : MemoryManager<byte>
{
    private readonly Stack<MemoryHandle> _pins = new();

    public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(floats.Span);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        MemoryHandle inner = floats.Pin();
        lock (_pins)
        {
            _pins.Push(inner);
        }
        return new MemoryHandle((byte*)inner.Pointer + elementIndex, default, this);
    }

    public override void Unpin()
    {
        // Every pin holds the same memory, so which one is released first does not matter.
        MemoryHandle inner;
        lock (_pins)
        {
            inner = _pins.Pop();
        }
        inner.Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        lock (_pins)
        {
            while (_pins.Count > 0)
            {
                _pins.Pop().Dispose();
            }
        }
    }
}
