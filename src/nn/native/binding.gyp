{
  "targets": [
    {
      "target_name": "chorus_nn",
      "sources": ["chorus_nn.c"],
      "cflags": ["-O3", "-march=native", "-ffp-contract=fast", "-std=c11"],
      "cflags!": ["-O2"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-ffp-contract=fast"] }
    }
  ]
}
