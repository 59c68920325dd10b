{
  "targets": [
    {
      "target_name": "chorus_nn",
      "sources": ["chorus_nn.c", "bpr.c", "als.c", "knn.c", "seqtrain.c"],
      "cflags": ["-O3", "-ffp-contract=fast", "-std=gnu11"],
      "cflags!": ["-O2"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-ffp-contract=fast"] }
    }
  ]
}
