# frozen_string_literal: true

module SessionProxy
  VERSION = "0.1.0"
end
