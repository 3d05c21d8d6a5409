-- select_features: decides what forward returns and drops every node nothing
-- returned depends on. features_only: the out_indices levels of feature_info,
-- in timm's order; otherwise the head output (logits, pooled features, or the
-- unpooled backbone when num_classes 0 and global_pool '').
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
      outputs[1] = { tensor = head.logits, module = head.fc_name }
    elseif head.pool then
      outputs[1] = { tensor = head.pool, module = head.pool_name }
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

  return model
end
