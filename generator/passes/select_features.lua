-- select_features: decides what forward returns and drops every node nothing
-- returned depends on. features_only: the out_indices levels of feature_info,
-- in timm's order; otherwise the head output (logits, pooled features, or the
-- unpooled backbone when num_classes 0 and global_pool ''). Also records the
-- node ranges of forward_features and forward_head.
return function(model)
  local spec, T = model.spec, model.tensors
  local outputs = {}
  if spec.features_only then
    for _, i in ipairs(spec.out_indices) do
      local f = model.features[i + 1]
      outputs[#outputs + 1] = { tensor = f.tensor, module = f.module }
    end
  else
    local head = model.head
    if head.logits then
      outputs[1] = { tensor = head.logits, module = "fc" }
    elseif head.pool then
      outputs[1] = { tensor = head.pool, module = "global_pool" }
    else
      outputs[1] = { tensor = model.backbone_out, module = T[model.backbone_out].name }
    end
  end
  model.outputs = outputs

  -- mark live nodes backwards from the outputs
  local needed = {}
  for _, o in ipairs(outputs) do needed[o.tensor] = true end
  local keep = {}
  for i = #model.nodes, 1, -1 do
    local node = model.nodes[i]
    if needed[node.output] then
      keep[i] = true
      for _, id in ipairs(node.inputs) do needed[id] = true end
    end
  end
  local nodes = {}
  for i, node in ipairs(model.nodes) do
    if keep[i] then nodes[#nodes + 1] = node end
  end
  model.nodes = nodes

  -- node ranges of the entry points (indices into model.nodes)
  local entries = {}
  if not spec.features_only then
    local last_backbone = 0
    for i, node in ipairs(nodes) do
      if node.output == model.backbone_out then last_backbone = i end
    end
    entries.features_last = last_backbone
    entries.pool_last = last_backbone
    for i, node in ipairs(nodes) do
      if model.head.pool and node.output == model.head.pool then entries.pool_last = i end
    end
  end
  model.entries = entries
  return model
end
