"""The execution API's shapes: strict input serializers (``inputs``) and the output
serializers that both render a body and document it (``outputs``)."""
