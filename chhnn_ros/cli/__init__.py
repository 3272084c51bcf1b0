"""The user commands: chhnn-perception, chhnn-teach, chhnn-detect, chhnn-prior, chhnn-demo."""
