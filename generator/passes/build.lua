-- build: the IR graph of the full timm model (stem, stages, head) at output
-- stride 32, from the architecture's family file in models/.
return function(model)
  return model.arch.build(model)
end
