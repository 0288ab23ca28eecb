"""One-line error messages: what the CLI, the model families and the
exporters print for an exception they caught."""


def one_line(error):
    """`error`'s text on one line (every run of whitespace, newlines
    included, one space), or its class name where it has no text."""
    return " ".join(str(error).split()) or type(error).__name__


__all__ = ["one_line"]
