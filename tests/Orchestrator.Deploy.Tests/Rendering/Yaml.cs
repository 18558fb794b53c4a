using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>Helpers over YamlDotNet's representation model, which keeps scalar styles (a quoted "true" stays a string).</summary>
public static class Yaml
{
    /// <summary>The non-empty documents of a YAML stream, each a mapping.</summary>
    public static List<YamlMappingNode> LoadDocuments(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        var documents = new List<YamlMappingNode>();
        foreach (var document in stream.Documents)
        {
            switch (document.RootNode)
            {
                case YamlMappingNode mapping:
                    documents.Add(mapping);
                    break;
                case YamlScalarNode { Value: null or "" }:
                    break;
                default:
                    throw new InvalidDataException($"{source}: a document is not a mapping");
            }
        }
        return documents;
    }

    public static YamlMappingNode LoadSingle(string path)
    {
        var documents = LoadDocuments(File.ReadAllText(path), path);
        return documents.Count == 1 ? documents[0] : throw new InvalidDataException($"{path}: expected one document, found {documents.Count}");
    }

    public static string Save(IEnumerable<YamlMappingNode> documents)
    {
        var stream = new YamlStream(documents.Select(d => new YamlDocument(d)));
        var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    public static YamlNode Clone(YamlNode node) => node switch
    {
        YamlScalarNode s => new YamlScalarNode(s.Value) { Style = s.Style, Tag = s.Tag },
        YamlSequenceNode q => new YamlSequenceNode(q.Children.Select(Clone)) { Style = q.Style },
        YamlMappingNode m => CloneMapping(m),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    private static YamlMappingNode CloneMapping(YamlMappingNode m)
    {
        var copy = new YamlMappingNode { Style = m.Style };
        foreach (var (key, value) in m.Children) copy.Add(Clone(key), Clone(value));
        return copy;
    }

    public static YamlNode? Get(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static YamlMappingNode? Map(this YamlMappingNode node, string key) => node.Get(key) as YamlMappingNode;

    public static YamlSequenceNode? Seq(this YamlMappingNode node, string key) => node.Get(key) as YamlSequenceNode;

    public static string? Str(this YamlMappingNode node, string key) => (node.Get(key) as YamlScalarNode)?.Value;

    /// <summary>The mapping at a dotted path, or null where a step is missing.</summary>
    public static YamlMappingNode? At(this YamlMappingNode node, string path)
    {
        YamlMappingNode? current = node;
        foreach (var step in path.Split('.'))
        {
            current = current?.Map(step);
            if (current is null) return null;
        }
        return current;
    }

    /// <summary>The mapping under <paramref name="key"/>, created empty where missing.</summary>
    public static YamlMappingNode Ensure(this YamlMappingNode node, string key)
    {
        if (node.Map(key) is { } existing) return existing;
        var created = new YamlMappingNode();
        node.Children[new YamlScalarNode(key)] = created;
        return created;
    }

    public static void Set(this YamlMappingNode node, string key, string value) =>
        node.Children[new YamlScalarNode(key)] = new YamlScalarNode(value);

    public static IEnumerable<YamlMappingNode> Maps(this YamlSequenceNode? sequence) =>
        sequence?.Children.OfType<YamlMappingNode>() ?? [];

    public static IEnumerable<string> Strings(this YamlSequenceNode? sequence) =>
        sequence?.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? "") ?? [];

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" };
}
