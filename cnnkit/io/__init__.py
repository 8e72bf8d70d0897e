"""Reading and writing files: ``checkpoint`` (``ck.save``/``ck.load`` on safetensors, no pickle) and
``atomic`` (write-to-temp-then-rename). Import the submodules directly."""
