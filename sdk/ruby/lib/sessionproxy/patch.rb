# frozen_string_literal: true

require "json"

module SessionProxy
  # The smallest RFC 7396 merge patch between two sessions, and the JSON
  # the directives carry. Both sides are plain JSON values: Hash (String
  # keys), Array, String, Integer, Float, true, false, nil.
  module Patch
    module_function

    # The smallest merge patch that turns before into after: only changed
    # keys; a removed key as nil; nested objects diffed key by key; arrays
    # and scalars replaced whole. An empty Hash means no change. A member
    # that is nil on both sides, or nil before and gone after, is no
    # change: a merge patch reads it as absent (the proxy may hold one a
    # Koa app wrote).
    def diff(before, after)
      patch = {}
      before.each do |k, v|
        patch[k] = nil if (!after.key?(k) || after[k].nil?) && !v.nil?
      end
      after.each do |k, v|
        next if v.nil? # nil deletes, as in a merge patch

        if !before.key?(k)
          patch[k] = strip_nil(v)
        elsif before[k].is_a?(Hash) && v.is_a?(Hash)
          sub = diff(before[k], v)
          patch[k] = sub unless sub.empty?
        elsif !same?(before[k], v)
          patch[k] = strip_nil(v)
        end
      end
      patch
    end

    # JSON equality: true is not 1, 1 is 1.0, objects by key, arrays in order.
    def same?(a, b)
      case a
      when Hash
        b.is_a?(Hash) && a.size == b.size && a.all? { |k, v| b.key?(k) && same?(v, b[k]) }
      when Array
        b.is_a?(Array) && a.size == b.size && a.each_index.all? { |i| same?(a[i], b[i]) }
      when Numeric
        b.is_a?(Numeric) && a == b
      else
        !b.is_a?(Hash) && !b.is_a?(Array) && !b.is_a?(Numeric) && a == b
      end
    end

    # Apply an RFC 7396 merge patch to target and return the result (new
    # objects; target is left as it was).
    def merge_patch(target, patch)
      return deep_copy(patch) unless patch.is_a?(Hash)

      result = target.is_a?(Hash) ? target.dup : {}
      patch.each do |k, v|
        if v.nil?
          result.delete(k)
        else
          result[k] = merge_patch(result[k], v)
        end
      end
      result
    end

    # What a merge patch leaves of v: its objects' nil members dropped.
    def strip_nil(v)
      return v unless v.is_a?(Hash)

      v.each_with_object({}) { |(k, x), out| out[k] = strip_nil(x) unless x.nil? }
    end

    def deep_copy(v)
      case v
      when Hash then v.each_with_object({}) { |(k, x), out| out[k] = deep_copy(x) }
      when Array then v.map { |x| deep_copy(x) }
      when String then v.dup
      else v
      end
    end

    # v as JSON carries it: new objects, String keys (a Symbol key or value
    # becomes its name), Strings in UTF-8. Raises TypeError naming what
    # JSON cannot hold (a Time, a custom object, a String that is not
    # UTF-8). Infinities pass: JSON.parse reads a number past the Float
    # range (1e400, which the proxy keeps as written) as one, and an
    # unchanged one must be no change; one that is sent raises in dump.
    def normalize(v, path = "")
      case v
      when Hash
        v.each_with_object({}) do |(k, x), out|
          key = case k
                when String then utf8(k, path)
                when Symbol then k.name
                else raise TypeError, "#{path}: a Hash key of class #{k.class} (JSON keys are Strings)"
                end
          out[key] = normalize(x, "#{path}[#{key.inspect}]")
        end
      when Array then v.each_with_index.map { |x, i| normalize(x, "#{path}[#{i}]") }
      when String then utf8(v, path)
      when Symbol then v.name
      when Integer, Float, true, false, nil then v
      else raise TypeError, "#{path.empty? ? "the value" : path} is a #{v.class}, which JSON cannot hold"
      end
    end

    def utf8(s, path)
      out = if [Encoding::UTF_8, Encoding::BINARY, Encoding::US_ASCII].include?(s.encoding)
              s.dup.force_encoding(Encoding::UTF_8)
            else
              begin
                s.encode(Encoding::UTF_8)
              rescue EncodingError
                nil
              end
            end
      raise TypeError, "#{path.empty? ? "a String" : path} is not valid UTF-8" unless out&.valid_encoding?

      out
    end

    # The JSON text of a directive: ASCII only, with \uXXXX for anything
    # else and for DEL, since header values are bytes and a raw DEL makes
    # the proxy answer 502. Raises JSON::GeneratorError for NaN or an
    # infinity.
    def dump(v)
      JSON.generate(v, ascii_only: true, allow_nan: false, max_nesting: false).gsub("\x7f", "\\u007f")
    end
  end
end
