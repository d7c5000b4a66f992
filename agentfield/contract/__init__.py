"""The contract the control plane and every SDK share: the provider/transport matrix with
its exact messages, the media paths of webrtc sessions, session definitions and turn
detection.

Standard library only: the control plane imports this very package, and the TypeScript and
Go SDKs carry copies that tests compare with it.
"""
