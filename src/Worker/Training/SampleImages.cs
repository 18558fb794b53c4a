using Orchestrator.Worker.Data;
using StbImageWriteSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>Renders samples to PNG: a tiled grid for images, a scatter over the true modes for 2-D points.</summary>
public static class SampleImages
{
    /// <summary>Tiles images [N, C, H, W] in [-1, 1] into a square grid with a 2-pixel gutter, scaled up by an integer factor.</summary>
    public static void SaveGrid(Tensor images, string path, int scale = 2)
    {
        int n = (int)images.shape[0], c = (int)images.shape[1], h = (int)images.shape[2], w = (int)images.shape[3];
        int side = (int)Math.Ceiling(Math.Sqrt(n));
        const int gutter = 2;
        int cellW = (w + gutter) * scale, cellH = (h + gutter) * scale;
        int width = side * cellW, height = side * cellH;
        var pixels = new byte[width * height * 3];
        Array.Fill(pixels, (byte)32);
        float[] data;
        using (var scaled = images.detach().cpu().to_type(ScalarType.Float32).contiguous())
            data = scaled.data<float>().ToArray();
        for (int i = 0; i < n; i++)
        {
            int ox = (i % side) * cellW + gutter * scale / 2, oy = (i / side) * cellH + gutter * scale / 2;
            for (int y = 0; y < h * scale; y++)
            for (int x = 0; x < w * scale; x++)
            {
                int p = ((oy + y) * width + ox + x) * 3;
                for (int ch = 0; ch < 3; ch++)
                {
                    int src = c == 3 ? ch : 0;
                    float v = data[((i * c + src) * h + y / scale) * w + x / scale];
                    pixels[p + ch] = ToByte(v);
                }
            }
        }
        Write(pixels, width, height, path);
    }

    /// <summary>Draws 2-D points (dark) over the mixture's modes (red rings of radius 3 std) on a white canvas.</summary>
    public static void SaveScatter(Tensor points, MixtureInfo mixture, string path, int size = 512)
    {
        double extent = 0;
        for (int k = 0; k < mixture.ModeCount; k++)
            extent = Math.Max(extent, Math.Max(Math.Abs(mixture.Means[k, 0]), Math.Abs(mixture.Means[k, 1])));
        extent = extent * 1.25 + 0.5;
        var pixels = new byte[size * size * 3];
        Array.Fill(pixels, (byte)255);
        int ToPx(double v) => (int)Math.Round((v + extent) / (2 * extent) * (size - 1));

        double ringRadius = Math.Max(3 * mixture.Std / (2 * extent) * size, 3);
        for (int k = 0; k < mixture.ModeCount; k++)
        {
            int cx = ToPx(mixture.Means[k, 0]), cy = size - 1 - ToPx(mixture.Means[k, 1]);
            for (int a = 0; a < 360; a += 2)
            {
                double t = a * Math.PI / 180;
                Plot(pixels, size, cx + (int)Math.Round(ringRadius * Math.Cos(t)), cy + (int)Math.Round(ringRadius * Math.Sin(t)), 220, 30, 30);
            }
        }
        float[] xy;
        using (var cpu = points.detach().cpu().to_type(ScalarType.Float32).contiguous())
            xy = cpu.data<float>().ToArray();
        for (int i = 0; i + 1 < xy.Length; i += 2)
        {
            int px = ToPx(xy[i]), py = size - 1 - ToPx(xy[i + 1]);
            for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++)
                Plot(pixels, size, px + dx, py + dy, 20, 60, 160);
        }
        Write(pixels, size, size, path);
    }

    private static void Plot(byte[] pixels, int size, int x, int y, byte r, byte g, byte b)
    {
        if (x < 0 || y < 0 || x >= size || y >= size) return;
        int p = (y * size + x) * 3;
        pixels[p] = r;
        pixels[p + 1] = g;
        pixels[p + 2] = b;
    }

    private static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round((v + 1f) * 127.5f), 0, 255);

    private static void Write(byte[] pixels, int width, int height, string path)
    {
        var temp = path + ".tmp";
        using (var file = File.Create(temp))
            new ImageWriter().WritePng(pixels, width, height, ColorComponents.RedGreenBlue, file);
        File.Move(temp, path, overwrite: true);
    }
}
