using System.Collections;
using System.Reflection;
using System.Text.Json.Serialization;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>
/// Compares a manifest's keys, recursively, with the properties of the KubernetesClient model it deserializes
/// into (their [JsonPropertyName] names): a misspelt or misplaced field is reported with its path instead of
/// being dropped on the way to the API server.
/// </summary>
public static class TypedModel
{
    public static List<string> UnknownFields(YamlNode node, Type type, string path)
    {
        var errors = new List<string>();
        Walk(node, type, path, errors);
        return errors;
    }

    private static void Walk(YamlNode node, Type type, string path, List<string> errors)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        switch (node)
        {
            case YamlMappingNode mapping when DictionaryValueType(type) is { } valueType:
                foreach (var (key, value) in mapping.Children) Walk(value, valueType, $"{path}.{((YamlScalarNode)key).Value}", errors);
                break;
            case YamlMappingNode mapping when type == typeof(object):
                break;
            case YamlMappingNode mapping:
                var properties = Properties(type);
                if (properties.Count == 0)
                {
                    errors.Add($"{path}: a mapping where {type.Name} expects a scalar");
                    break;
                }
                foreach (var (key, value) in mapping.Children)
                {
                    var name = ((YamlScalarNode)key).Value!;
                    if (properties.TryGetValue(name, out var property)) Walk(value, property.PropertyType, $"{path}.{name}", errors);
                    else errors.Add($"{path}.{name}: not a field of {type.Name}");
                }
                break;
            case YamlSequenceNode sequence:
                var elementType = ElementType(type);
                if (elementType is null)
                {
                    errors.Add($"{path}: a list where {type.Name} is expected");
                    break;
                }
                var i = 0;
                foreach (var item in sequence.Children) Walk(item, elementType, $"{path}[{i++}]", errors);
                break;
            case YamlScalarNode scalar when !Yaml.IsNull(scalar) && Properties(type).Count > 0:
                errors.Add($"{path}: a scalar where {type.Name} expects a mapping");
                break;
        }
    }

    private static Dictionary<string, PropertyInfo> Properties(Type type)
    {
        if (type.IsPrimitive || type == typeof(string) || typeof(IEnumerable).IsAssignableFrom(type)) return [];
        var result = new Dictionary<string, PropertyInfo>(StringComparer.Ordinal);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonPropertyNameAttribute>() is { } attribute) result[attribute.Name] = property;
        }
        return result;
    }

    private static Type? DictionaryValueType(Type type)
    {
        foreach (var candidate in type.GetInterfaces().Append(type))
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IDictionary<,>)) return candidate.GetGenericArguments()[1];
        }
        return null;
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        foreach (var candidate in type.GetInterfaces().Append(type))
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>)) return candidate.GetGenericArguments()[0];
        }
        return null;
    }
}
